"""Pixel values of the masks signseg writes (see docs/format.md).

0 is background and anything above 0 is hand or face, so ``mask > 0`` is the binary mask.
A model without part separation marks all foreground :data:`UNASSIGNED`.
"""
import numpy as np

BACKGROUND = 0
FACE = 1
LEFT_HAND = 2   # the signer's own left hand
RIGHT_HAND = 3  # the signer's own right hand
UNASSIGNED = 4  # hand or face, not assigned to a part
#: Training labels only, never in a mask file: pixels where the teacher may have missed a hand
#: (the pose puts a hand there, the hand model found none); losses and training metrics skip them.
IGNORE = 254

NAMES = {BACKGROUND: "background", FACE: "face", LEFT_HAND: "left_hand",
         RIGHT_HAND: "right_hand", UNASSIGNED: "unassigned"}
#: The parts masks are split into (``signseg corpus --parts``), in the order boxes and crops use.
PARTS = (FACE, LEFT_HAND, RIGHT_HAND)
PART_NAMES = tuple(NAMES[p] for p in PARTS)
#: Each part's pixel value by its name (the names network channels and score tables use).
PART_VALUES = {NAMES[p]: p for p in PARTS}


def is_hand(mask: np.ndarray) -> np.ndarray:
    """Where ``mask`` names either hand (left or right): the "hands" that scores and losses count."""
    return (mask == LEFT_HAND) | (mask == RIGHT_HAND)
