"""Training views: signers pasted onto new backgrounds, new clothes, painted-out rooms."""
import numpy as np
import pytest

from signseg import labels as L
from signseg.train.augment import (CLOTHES, Backgrounds, augment, composite, fill_person, labelled, recolour_clothes,
                                   shelves)
from signseg.decode.video import VideoReader


@pytest.fixture(scope="module")
def soup_frame(soup):
    frame = next(iter(VideoReader(soup)))
    person = np.zeros(frame.shape[:2], np.uint8)
    person[40:240, 90:230] = 255  # the signer's rough silhouette in SOUP's first frame
    mask = np.zeros(frame.shape[:2], np.uint8)
    mask[60:110, 130:180] = L.FACE
    mask[150:180, 100:125] = L.LEFT_HAND
    return frame, person, mask


def test_composite_keeps_the_person_and_every_labelled_pixel(soup_frame):
    frame, person, mask = soup_frame
    person = person.copy()
    person[150:180, 100:125] = 0  # the person mask clipped a hand: its pixels must still come along
    bg = np.zeros_like(frame)
    bg[..., 1] = 255
    out = composite(frame, mask, person, bg)
    labelled = mask > 0
    assert np.abs(out[labelled].astype(int) - frame[labelled]).max() <= 1
    assert (out[:20, :60] == (0, 255, 0)).all()  # far from the person: the new background
    assert np.abs(out[60:230, 100:220].astype(int) - frame[60:230, 100:220]).mean() < 2


def test_recoloured_clothes_leave_hands_and_face_alone(soup_frame):
    frame, person, mask = soup_frame
    import cv2
    rng = np.random.default_rng(0)
    outside = cv2.dilate(person, np.ones((7, 7), np.uint8)) == 0  # the edge is feathered by 2 px
    changed = 0
    for _ in range(6):
        out = recolour_clothes(frame, mask, person, rng)
        assert (out[mask > 0] == frame[mask > 0]).all()
        assert (out[outside] == frame[outside]).all()
        changed += np.abs(out[200:230, 140:200].astype(int) - frame[200:230, 140:200]).mean() > 10
    assert changed >= 4  # the body (dark sleeves in SOUP) really takes other colours


def test_fill_person_paints_the_signer_out_and_keeps_the_room(soup_frame):
    frame, person, _ = soup_frame
    plate = fill_person(frame, person)
    assert plate.shape == frame.shape and plate.dtype == np.uint8
    assert (plate[:, :60] == frame[:, :60]).all()  # far from the signer: untouched
    # the face (skin) is gone: the hole now holds colours of the grey studio around it
    room = frame[:, :60].reshape(-1, 3).mean(0)
    after = np.abs(plate[60:110, 130:180].reshape(-1, 3).mean(0) - room).max()
    before = np.abs(frame[60:110, 130:180].reshape(-1, 3).mean(0) - room).max()
    assert before > 60 and after < 0.35 * before


def test_backgrounds_cover_the_hue_circle_and_the_rooms(soup_frame):
    frame, person, _ = soup_frame
    pool = Backgrounds.from_clips([frame, frame], [person, person], ["a", "a"])
    assert len(pool.plates) == 1  # one plate per clip
    rng = np.random.default_rng(2)
    import cv2
    hues, means = [], []
    for _ in range(200):
        bg = pool.draw((48, 64), rng)
        assert bg.shape == (48, 64, 3) and bg.dtype == np.uint8
        hsv = cv2.cvtColor(bg, cv2.COLOR_RGB2HSV).reshape(-1, 3)
        if hsv[:, 1].mean() > 60:
            hues.append(np.median(hsv[:, 0]))
        means.append(bg.mean())
    assert np.histogram(hues, bins=6, range=(0, 180))[0].min() > 0  # every sixth of the hue circle
    assert min(means) < 40 and max(means) > 200  # near-black and near-white walls too
    assert sum(10 <= h <= 25 for h in hues) > 10  # skin-coloured walls: the hardest case


def test_shelves_are_fine_colourful_texture_unlike_the_other_walls(soup_frame):
    """Rows of narrow book spines in many colours: many more vertical edges than any procedural
    wall, and the pool keeps its clips' rooms beside them at the share asked for."""
    import cv2
    rng = np.random.default_rng(3)
    def edges(img):  # share of pixels with a strong step to the right neighbour
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(int)
        return (np.abs(np.diff(grey, axis=1)) > 12).mean()
    def hues(img):
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).reshape(-1, 3)
        return len(np.unique(hsv[hsv[:, 1] > 60, 0] // 15))
    drawn = [shelves((120, 160), rng) for _ in range(8)]
    walls = [Backgrounds().draw((120, 160), rng) for _ in range(40)]
    assert all(d.shape == (120, 160, 3) and d.dtype == np.uint8 for d in drawn)
    assert min(edges(d) for d in drawn) > 2 * max(edges(w) for w in walls)
    assert np.median([hues(d) for d in drawn]) >= 6  # of 12 hue bins
    assert not np.array_equal(drawn[0], drawn[1])
    frame, person, _ = soup_frame
    frames, persons = [frame] * 3, [person] * 3
    assert len(Backgrounds.from_clips(frames, persons, ["a", "b", "c"]).plates) == 3
    pool = Backgrounds.from_clips(frames, persons, ["a", "b", "c"], shelf_share=0.25)
    assert len(pool.plates) == 4 and edges(pool.plates[3]) > 2 * edges(pool.plates[0])
    assert all((p == pool.plates[0]).all() for p in pool.plates[:3])  # the rooms are kept
    assert len(Backgrounds.from_clips(frames, persons, ["a", "b", "c"], shelf_share=1.0).plates) == 3


def test_augment_pastes_onto_new_backgrounds_only_with_a_person_mask(soup_frame, monkeypatch):
    """SOUP's wall is grey: a strongly saturated corner means the view was pasted elsewhere."""
    import cv2
    import signseg.train.augment as aug
    monkeypatch.setattr(aug, "P_COMPOSITE", 1.0)
    frame, person, mask = soup_frame
    rng = np.random.default_rng(0)

    def saturated_corners(**kw):
        views = [augment(frame, mask, (120, 160), rng, **kw) for _ in range(300)]
        for x, y in views:
            assert x.shape == (120, 160, 3) and y.shape == (120, 160)
            assert set(np.unique(y)) <= {0, L.FACE, L.LEFT_HAND, L.RIGHT_HAND}
        return np.mean([cv2.cvtColor(x[:10, :10].copy(), cv2.COLOR_RGB2HSV)[..., 1].mean() > 150 for x, _ in views])

    # colour jitter alone keeps a grey wall greyish (its brightness offset is additive, as in the
    # graph views, so a darkened grey wall is a little more saturated: ~6% of views pass 150)
    assert saturated_corners() <= 0.1
    assert saturated_corners(person=person, backgrounds=Backgrounds()) >= 0.2


def test_short_sleeves_give_the_arm_by_a_hand_that_hand_s_colour(soup_frame):
    """SOUP's signer wears dark sleeves: in some views the sleeve beside her left hand takes
    the hand's own (skin) colour, a bare forearm, while the hand itself is untouched."""
    frame, person, mask = soup_frame
    hand = mask == L.LEFT_HAND
    skin = np.median(frame[hand].astype(float), axis=0)
    sleeve = np.zeros_like(hand)
    sleeve[150:180, 126:140] = True  # just right of the hand box: dark sleeve in the frame
    assert np.abs(frame[sleeve].mean(0) - skin).max() > 60
    rng = np.random.default_rng(4)
    bare = 0
    for _ in range(20):
        out = recolour_clothes(frame, mask, person, rng)
        assert (out[hand] == frame[hand]).all()
        bare += np.abs(out[sleeve].mean(0) - skin).max() < 40
    assert 3 <= bare <= 17  # often, not always


def test_noise_has_its_sigma_in_every_channel_and_differs_between_views():
    from signseg.train.augment import add_noise
    rng = np.random.default_rng(0)
    grey = np.full((64, 80, 3), 128, np.uint8)
    a, b = (add_noise(grey, 6.0, rng).astype(int) - 128 for _ in range(2))
    for c in range(3):  # OpenCV's scalar arguments reach channel 0 alone: every channel is checked
        assert 5.5 < a[..., c].std() < 6.5 and abs(a[..., c].mean()) < 0.5
    assert (a != b).mean() > 0.8
    assert add_noise(np.full((8, 8, 3), 250, np.uint8), 20.0, rng).max() == 255  # saturated, not wrapped


def test_marked_clothes_are_the_signer_outside_hands_and_face(soup_frame):
    """``mark_clothes`` labels the rest of the signer CLOTHES, geometry applied like the labels."""
    from signseg.train.augment import CLOTHES
    frame, person, mask = soup_frame
    rng = np.random.default_rng(3)
    for _ in range(20):
        img, msk = augment(frame, mask, (120, 160), rng, person=person, mark_clothes=True)
        assert set(np.unique(msk)) <= {0, L.FACE, L.LEFT_HAND, L.RIGHT_HAND, CLOTHES}
        assert (msk == CLOTHES).any() and (msk == L.FACE).any()  # the body round the labels, the face kept
    plain = augment(frame, mask, (120, 160), np.random.default_rng(3), person=person)[1]
    assert not (plain == CLOTHES).any()  # unmarked unless asked
    still = augment(frame, mask, (120, 160), rng, person=person, mark_clothes=True, strength=0.0)[1]
    assert not (still == CLOTHES).any()  # validation views: no person handling at all


def test_clothes_weight_batches_weigh_the_signers_other_pixels(soup_labels):
    from signseg.train.fit import FrameBatches
    from signseg.train.sources import load_sources
    data = load_sources([soup_labels])
    data.persons = [np.full_like(m, 255) for m in data.masks]  # the whole frame is "person"
    x, y = FrameBatches(data, (64, 64), 4, steps=1)[0]
    assert y.shape == (4, 64, 64, 1)
    x, y, w = FrameBatches(data, (64, 64), 4, steps=1, clothes_weight=3.0)[0]
    assert w.shape == (4, 64, 64) and set(np.unique(w)) <= {1.0, 3.0}
    assert (w[labelled(y[..., 0])] == 1.0).all()  # hands and face keep weight 1
    assert (w[y[..., 0] == CLOTHES] == 3.0).all()
    assert (w == 3.0).mean() > 0.5  # every other pixel is the signer here: weighed 3
    _, _ = FrameBatches(data, (64, 64), 4, train=False, clothes_weight=3.0)[0]  # validation: unweighted
