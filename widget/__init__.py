"""The fan-facing Gradio widget: one chat app per published clone, served under /c/<slug>/."""
