"""What the page carries besides the tabs: the CSS and the head script that
``demo.launch`` takes (Gradio 6 takes them there, not in ``gr.Blocks``)."""

CSS = """
.pixelated img { image-rendering: pixelated; }
.pixelated.fill img { object-fit: contain !important; width: 100% !important; height: 100% !important; }
.pg-hidden { display: none !important; }
.pg-header { margin-bottom: 0.25rem; }
.pg-note p { color: var(--error-text-color, #b91c1c); margin: 0; }
"""

# Plotly's click events never reach Python through gr.Plot, so a small script forwards a
# click on a point of a plot inside an element with class "pg-clickable" (id X) to the
# hidden textbox with id X-click, as "customdata:nonce"; the textbox's change event then
# runs a handler. The nonce makes a second click on the same point a change too.
HEAD = """
<script>
(() => {
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
