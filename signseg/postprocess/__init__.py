"""Postprocess: between the network's masks and the file, parts (face, left and right hand,
tracked across frames), their boxes and crops."""
from signseg.postprocess.steps import Postprocess

__all__ = ["Postprocess"]
