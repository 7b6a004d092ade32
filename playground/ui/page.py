"""What the page carries besides the tabs: the CSS and the head script that
``demo.launch`` takes (Gradio 6 takes them there, not in ``gr.Blocks``)."""

CSS = """
.pixelated img { image-rendering: pixelated; }
.pixelated.fill img { object-fit: contain !important; width: 100% !important; height: 100% !important; }
.pg-hidden { display: none !important; }
.pg-note p { color: var(--error-text-color, #b91c1c); margin: 0; }

/* A block's label sits above what it labels (Gradio floats it over images and plots). */
.block:has(> label[data-testid="block-label"].float) { display: flex; flex-direction: column; flex-wrap: nowrap !important; }
label[data-testid="block-label"].float { position: static !important; align-self: flex-start; margin-bottom: 4px; }
.block:has(> label[data-testid="block-label"].float) > .image-container { flex: 1 1 auto; min-height: 0; }
/* an image's download and full-screen buttons show on hover only */
.pixelated .icon-button-wrapper { opacity: 0; transition: opacity 0.2s; }
.pixelated:hover .icon-button-wrapper { opacity: 1; }

/* digit galleries: all columns fit the width, square cells, small captions */
.pg-digits .grid-container { grid-template-columns: repeat(var(--grid-cols), minmax(0, 1fr)) !important; grid-auto-rows: auto !important; }
.pg-digits .grid-container > * { aspect-ratio: 1; }
.pg-digits .caption-label { font-size: 10px !important; line-height: 1.1 !important; padding: 0 2px !important; bottom: 1px !important; right: 1px !important; left: auto !important; opacity: 0.8; }

/* the header, the model bar and the tour: one line each */
.pg-header { align-items: center; margin: 0 !important; padding: 0 !important; min-height: 0 !important; }
.pg-header > div { min-height: 0 !important; }
.pg-header h2 { margin: 0 !important; padding: 0 !important; font-size: 1.25rem !important; line-height: 1.6 !important; }
.gradio-container { padding-top: 6px !important; }
.pg-bar-row { align-items: center; gap: 8px; }
.pg-loader > button span { font-weight: 600; }
.pg-tour { align-items: center; gap: 6px; flex-wrap: nowrap !important; }
#pg-presenter { flex: 0 0 auto !important; width: auto !important; min-width: 0 !important; }
.pg-tour button { flex: 1 1 auto; }
.pg-tour-title { flex: 0 0 auto !important; min-width: 0 !important; width: auto !important; white-space: nowrap; }
.pg-tour-text:empty, .pg-tour-text:has(.prose:empty) { display: none; }

/* home */
.pg-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px; background: var(--block-background-fill); }
.pg-kind { font-size: 0.7rem; line-height: 1.25; color: var(--body-text-color-subdued); text-transform: uppercase; letter-spacing: 0.02em; }
.pg-card-title { font-weight: 700; font-size: 1rem; line-height: 1.25; margin: 0 0 2px; }
.pg-teaches p { font-size: 0.85rem; line-height: 1.25; margin: 0; }
.pg-card { gap: 6px !important; }
.pg-cards { gap: 8px !important; }  /* eight cards in one row at 1280 px */

/* compare: the families' table, 14 columns at 1280 px */
#cmp-table { --input-text-size: 12.5px; }
#cmp-table .virtual-table-viewport { max-height: calc(100vh - 340px) !important; }  /* in sight at 1280 x 720 and 1920 x 1080 */
#home-intro, #home-about { font-size: 0.9rem; }
#home-intro h3 { margin: 0 0 4px !important; }
#home-intro p, #home-intro li { margin: 2px 0 !important; line-height: 1.35; }

/* presenter mode: larger text, no model bar or footer */
html.pg-presenter .gradio-container { --text-md: 17px; --text-sm: 15px; --text-lg: 19px; --text-xs: 13px; --block-label-text-size: 15px; --button-large-text-size: 17px; --button-small-text-size: 15px; font-size: 17px; }
html.pg-presenter .pg-bar-row > .column:has(.pg-loader), html.pg-presenter .pg-bar-row button[id$="-restore"],
html.pg-presenter #home-about, html.pg-presenter footer { display: none !important; }
html.pg-presenter .pg-bar-row { justify-content: flex-end; }
"""

# Plotly's click events never reach Python through gr.Plot, so a small script forwards a
# click on a point of a plot inside an element with class "pg-clickable" (id X) to the
# hidden textbox with id X-click, as "customdata:nonce"; the textbox's change event then
# runs a handler. The nonce makes a second click on the same point a change too.
HEAD = """
<script>
(() => {
  if (new URLSearchParams(location.search).has('presenter')) document.documentElement.classList.add('pg-presenter');
  const attach = () => {
    document.querySelectorAll('.pg-clickable').forEach(box => {
      const target = box.id + '-click';
      box.querySelectorAll('.js-plotly-plot').forEach(div => {
        if (div.__pgClick || typeof div.on !== 'function') return;
        div.__pgClick = true;
        div.on('plotly_click', ev => {
          const p = ev.points && ev.points[0];
          if (!p || p.customdata === undefined) return;
          const field = document.querySelector('#' + target + ' textarea, #' + target + ' input');
          if (!field) return;
          const index = Array.isArray(p.customdata) ? p.customdata[0] : p.customdata;
          field.value = index + ':' + Date.now();
          field.dispatchEvent(new Event('input', { bubbles: true }));
        });
      });
    });
  };
  new MutationObserver(attach).observe(document.documentElement, { childList: true, subtree: true });
})();
</script>
"""

# The presenter-mode toggle: a class on <html> that the CSS above reads.
PRESENTER_JS = "(on) => { document.documentElement.classList.toggle('pg-presenter', on); return []; }"
