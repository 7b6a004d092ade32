"""Entry point, as Hugging Face Spaces expects: a module-level ``demo``, launched when run."""

from playground.ui.app import build_demo, launch_kwargs

demo = build_demo()

if __name__ == "__main__":
    demo.launch(**launch_kwargs())
