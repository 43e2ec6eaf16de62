"""Shipped model weights and their model cards (installed as ``signseg.weights``)."""
