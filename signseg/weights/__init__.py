"""Shipped model weights and their model cards (package data of ``signseg.weights``)."""
