import keras
import numpy as np
import pytest

from signseg.models import VGG16_NOTOP_FILE, Upsample2x, build, snet, vgg_unet


def _convs(model):
    return [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]


def test_snet_matches_the_paper():
    m = snet()
    convs = _convs(m)
    assert [c.filters for c in convs] == [32, 32, 64, 64, 128, 128, 256, 256, 128, 128, 64, 64, 32, 32, 1]
    assert [c.kernel_size[0] for c in convs if c.filters == 256] == [5, 5]
    drops = [l.rate for l in m.layers if isinstance(l, keras.layers.SpatialDropout2D)]
    assert drops == [0.4, 0.5, 0.4]
    assert convs[-1].activation.__name__ == "sigmoid"
    assert m.output_shape == (None, None, None, 1)


@pytest.mark.parametrize("hw", [(400, 400), (64, 96), (8, 8)])
def test_snet_is_fully_convolutional(hw):
    m = snet(width=0.125)
    y = m.predict_on_batch(np.zeros((2, *hw, 3), np.float32))
    assert y.shape == (2, *hw, 1)
    assert np.all((y >= 0) & (y <= 1))


@pytest.mark.parametrize("stem, width, thinnest, hw", [(2, 0.5, 16, (224, 224)), (2, 0.5, 16, (64, 96)),
                                                      (2, 0.5, 16, (16, 16)), (4, 0.75, 24, (224, 224)),
                                                      (4, 0.75, 24, (32, 64))])
def test_strided_stem_snet_keeps_the_input_size_and_has_no_thin_layers(stem, width, thinnest, hw):
    m = snet(width=width, stem=stem)
    y = m.predict_on_batch(np.zeros((2, *hw, 3), np.float32))
    assert y.shape == (2, *hw, 1) and np.all((y >= 0) & (y <= 1))
    assert min(c.filters for c in _convs(m) if c.name != "mask") == thinnest
    assert m.get_layer("stem").strides == (stem, stem)
    assert m.get_layer("enc1_conv1").output.shape[1:3] == (None, None)
    with pytest.raises(ValueError, match="stem"):
        snet(stem=3)


def test_width_scales_every_layer():
    assert [c.filters for c in _convs(snet(width=0.25))][:9] == [8, 8, 16, 16, 32, 32, 64, 64, 32]
    with pytest.raises(ValueError, match="width"):
        snet(width=0)


def test_dropout_scale_changes_training_only():
    """--dropout 0: no SpatialDropout layers, the same weights, the same outputs at inference;
    the layers' rates follow the scale."""
    x = np.random.default_rng(0).random((2, 64, 64, 3)).astype("float32")
    paper, none = snet(width=0.25, stem=2), snet(width=0.25, stem=2, dropout=0.0)
    drops = [l.rate for l in paper.layers if isinstance(l, keras.layers.SpatialDropout2D)]
    assert drops == [0.4, 0.5, 0.4]
    assert not any(isinstance(l, keras.layers.SpatialDropout2D) for l in none.layers)
    none.set_weights(paper.get_weights())
    np.testing.assert_allclose(none.predict(x, verbose=0), paper.predict(x, verbose=0), atol=1e-6)
    half = snet(width=0.25, dropout=0.5)
    assert [l.rate for l in half.layers if isinstance(l, keras.layers.SpatialDropout2D)] == [0.2, 0.25, 0.2]
    with pytest.raises(ValueError, match="dropout"):
        snet(dropout=-0.1)


def test_vgg_unet_random_encoder_is_trainable_and_sigmoid():
    m = vgg_unet(encoder_weights=None)
    assert m.get_layer("vgg16_encoder").trainable
    assert _convs(m)[-1].activation.__name__ == "sigmoid"
    assert m.predict_on_batch(np.zeros((1, 32, 48, 3), np.float32)).shape == (1, 32, 48, 1)


@pytest.fixture(scope="module")
def keras2_vgg_file(tmp_path_factory):
    """A VGG16 'notop' weights file in the legacy Keras-2 layout ImageNet's file has."""
    tf_keras = pytest.importorskip("tf_keras")
    folder = tmp_path_factory.mktemp("keras_home")
    (folder / "models").mkdir()
    path = folder / "models" / VGG16_NOTOP_FILE
    tf_keras.applications.VGG16(include_top=False, weights=None).save_weights(str(path))
    return path


def test_vgg_unet_loads_a_local_encoder_file_and_freezes_it(keras2_vgg_file):
    import h5py
    m = vgg_unet(encoder_weights=keras2_vgg_file)
    enc = m.get_layer("vgg16_encoder")
    assert not enc.trainable
    with h5py.File(keras2_vgg_file, "r") as f:
        k = f["block1_conv1"]["block1_conv1"]
        kernel = k[[n for n in k if n.startswith("kernel")][0]][:]
    np.testing.assert_allclose(enc.get_layer("block1_conv1").kernel.numpy(), kernel)
    assert len(m.trainable_weights) == 14  # the decoder only: 7 convs x (kernel, bias)


def test_vgg_unet_finds_the_file_in_keras_cache(keras2_vgg_file, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(keras2_vgg_file.parents[1]))
    assert not vgg_unet().get_layer("vgg16_encoder").trainable


def test_vgg_unet_without_weights_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        vgg_unet()
    assert VGG16_NOTOP_FILE in str(err.value) and str(tmp_path) in str(err.value)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        vgg_unet(encoder_weights=tmp_path / "nope.h5")


def test_build_by_name():
    assert build("snet", width=0.125).name == "snet"
    with pytest.raises(ValueError, match="unknown architecture"):
        build("resnet")


@pytest.mark.parametrize("hw", [(4, 4), (3, 5), (25, 14)])
def test_upsample2x_repeats_every_pixel_twice(hw):
    """The resize-based upsampling must give UpSampling2D's values exactly."""
    x = np.random.default_rng(1).random((2, *hw, 3)).astype("float32")
    expected = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(np.asarray(Upsample2x()(x)), expected)
    np.testing.assert_array_equal(np.asarray(Upsample2x()(x, training=True)), expected)  # fit's path
    np.testing.assert_array_equal(np.asarray(keras.layers.UpSampling2D(2)(x)), expected)


def test_snet_trains_in_an_xla_compiled_step():
    """Keras XLA-compiles ``fit`` on a TensorFlow GPU by default; every op's gradient must have
    an XLA kernel (the resize's did not: ResizeNearestNeighborGrad)."""
    model = snet((32, 32, 3), width=0.125)
    model.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=True)
    rng = np.random.default_rng(0)
    x = rng.random((2, 32, 32, 3), dtype=np.float32)
    y = (rng.random((2, 32, 32, 1)) > 0.5).astype("float32")
    loss = model.fit(x, y, epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(loss)


def test_face_hand_head_keeps_the_mask_first_and_widens_from_one_channel():
    from signseg.models import snet
    from signseg.train.fit import widen_head
    keras.utils.set_random_seed(3)
    for stem in (1, 2):
        narrow = snet(width=0.125, stem=stem)
        wide = snet(width=0.125, stem=stem, outputs="face_hand")
        x = np.random.default_rng(0).random((1, 32, 32, 3)).astype("float32")
        widen_head(narrow, wide)
        a, b = np.asarray(narrow(x)), np.asarray(wide(x))
        assert b.shape == (1, 32, 32, 3)
        np.testing.assert_allclose(b[..., 0], a[..., 0], atol=1e-5)  # the mask is the narrow model's
        np.testing.assert_allclose(b[..., 1] + b[..., 2], b[..., 0], atol=1e-5)  # face and hand share it
        np.testing.assert_allclose(b[..., 1], b[..., 2], atol=1e-6)  # undecided until trained
        share = wide.get_layer("hand_share")
        share.set_weights([w + 0.5 for w in share.get_weights()])  # once trained, one part wins
        assert not np.allclose(np.asarray(wide(x))[..., 1], np.asarray(wide(x))[..., 2])
    with pytest.raises(ValueError, match="outputs must be one of"):
        snet(width=0.125, outputs="hands")


def test_parts_head_shares_the_mask_and_widens_from_face_hand():
    """--outputs parts: face, left and right hand share channel 0; widened from a face_hand model,
    the face/hand split carries over (the hands' sum is its hand) with left and right alike."""
    from signseg.models import snet
    from signseg.train.fit import widen_head
    keras.utils.set_random_seed(4)
    x = np.random.default_rng(1).random((1, 32, 32, 3)).astype("float32")
    for stem in (1, 2):
        fh = snet(width=0.125, stem=stem, outputs="face_hand")
        share = fh.get_layer("hand_share")
        rng = np.random.default_rng(stem)
        share.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in share.get_weights()])
        parts = snet(width=0.125, stem=stem, outputs="parts")
        assert {"part_logits", "part_context"} <= {layer.name for layer in parts.layers}
        widen_head(fh, parts)
        a, b = np.asarray(fh(x)), np.asarray(parts(x))
        assert b.shape == (1, 32, 32, 4)
        np.testing.assert_allclose(b[..., 0], a[..., 0], atol=1e-5)
        np.testing.assert_allclose(b[..., 1:].sum(-1), b[..., 0], atol=1e-5)
        np.testing.assert_allclose(b[..., 1], a[..., 1], atol=1e-5)  # the face as it was
        np.testing.assert_allclose(b[..., 2] + b[..., 3], a[..., 2], atol=1e-5)
        np.testing.assert_allclose(b[..., 2], b[..., 3], atol=1e-6)  # left from right: not yet learnt
        ctx = parts.get_layer("part_context")  # the coarse context reaches every pixel once trained
        kernel, bias = ctx.get_weights()
        ctx.set_weights([kernel + np.array([0.0, 0.3, -0.3], "float32"), bias])
        assert not np.allclose(np.asarray(parts(x))[..., 1:], b[..., 1:])


def test_a_grown_network_computes_the_narrow_ones_outputs_and_can_learn_more():
    """grow_width: the shipped snet-lite copied into width 0.75 gives its outputs on a real
    frame; a parts network (stem 1) too; the new filters' zero weights get a gradient."""
    from signseg.infer.presets import resolve
    from signseg.train.grow import grow_width
    from signseg.video import read_video
    from conftest import SOUP
    frame = read_video(SOUP)[:1]
    x = keras.ops.convert_to_numpy(keras.ops.image.resize(frame.astype("float32") / 255, (224, 224)))
    card, weights = resolve("snet-lite")
    narrow = build(card.architecture, **card.config)
    narrow.load_weights(str(weights))
    wide = build(card.architecture, **{**card.config, "width": 0.75})
    grow_width(narrow, wide)
    assert wide.count_params() > 2 * narrow.count_params()
    before = narrow.predict(x, verbose=0)
    assert before[..., 0].max() > 0.5  # a trained network marks something on a signer
    assert np.abs(wide.predict(x, verbose=0) - before).max() < 1e-5
    small, big = snet(width=0.25, outputs="parts"), snet(width=0.5, outputs="parts")
    grow_width(small, big)
    assert np.abs(big.predict(x, verbose=0) - small.predict(x, verbose=0)).max() < 1e-5
    # the old filters' weights from the new ones are zero, and the loss moves them
    new_in = big.get_layer("enc1_conv2").get_weights()[0][:, :, 8:, :8]
    assert not new_in.any()
    import tensorflow as tf
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(big(x, training=True)[..., 0])
    grad = tape.gradient(loss, big.get_layer("enc1_conv2").kernel)
    assert np.abs(keras.ops.convert_to_numpy(grad)[:, :, 8:, :8]).max() > 0
    with pytest.raises(ValueError, match="does not fit"):
        grow_width(big, small)
    with pytest.raises(ValueError, match="lacks"):
        grow_width(snet(width=0.25), snet(width=0.5, stem=2))
