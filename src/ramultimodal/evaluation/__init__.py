"""evaluation stage of ramultimodal (see docs/data-model.md)."""
