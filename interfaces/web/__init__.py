"""The web door: a FastAPI API with SSE events, token auth and an embeddable widget."""
