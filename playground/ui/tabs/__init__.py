"""One module per tab; each exposes ``build(ctx)`` that makes its components and binds
its handlers inside the current ``gr.Blocks``."""
