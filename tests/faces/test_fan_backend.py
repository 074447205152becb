"""FAN plumbing with randomly initialised weights saved to a local file (real weights: skipped if absent)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
fan_models = pytest.importorskip("face_alignment.models")

from styleinv_data.faces.fan_backend import HEATMAP_RESOLUTION, FanLandmarker  # noqa: E402
from styleinv_data.faces.weights import MissingWeightsError, resolve_weights  # noqa: E402


@pytest.fixture(scope="module")
def random_fan_file(tmp_path_factory):
    torch.manual_seed(0)
    net = fan_models.FAN(1)  # one hour-glass: the plumbing is the same as 2D-FAN-4, much cheaper
    path = tmp_path_factory.mktemp("fan") / "fan_random.pth"
    torch.save(net.state_dict(), path)
    return path


def test_loads_a_local_state_dict_and_returns_68_points(random_fan_file, astronaut_rgb):
    fan = FanLandmarker(random_fan_file, num_modules=1)
    boxes = np.array([[175.0, 76.0, 266.0, 167.0]])
    pts = fan.landmarks(astronaut_rgb, boxes)
    assert pts.shape == (1, 68, 2) and np.isfinite(pts).all()
    centres, sides = FanLandmarker.crop_frames(boxes)
    assert (np.abs(pts[0] - centres[0]) <= sides[0] / 2 + 1).all()  # every point lies inside the box's crop


def test_safetensors_weights_load_too(tmp_path):
    from safetensors.torch import save_file

    net = fan_models.FAN(1)
    path = tmp_path / "fan.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    fan = FanLandmarker(path, num_modules=1)
    assert fan.net.conv1.weight.shape == net.conv1.weight.shape


class Peak(torch.nn.Module):
    """A stand-in network: one heat-map peak at ``peak`` (x, y), its right neighbour at half height."""

    def __init__(self, peak):
        super().__init__()
        self.peak = peak
        self.batches = []

    def forward(self, x):
        self.batches.append(x.shape[0])
        hm = torch.zeros(x.shape[0], 68, HEATMAP_RESOLUTION, HEATMAP_RESOLUTION)
        hm[:, :, self.peak[1], self.peak[0]] = 1.0
        hm[:, :, self.peak[1], self.peak[0] + 1] = 0.5  # the right neighbour is larger: +0.25 px in x
        return [hm]


def test_all_boxes_go_through_the_network_as_one_batch(random_fan_file):
    fan = FanLandmarker(random_fan_file, num_modules=1)
    fan.net = Peak((30, 30))
    boxes = np.array([[10.0, 10.0, 60.0, 60.0], [12.0, 9.0, 62.0, 59.0], [8.0, 11.0, 58.0, 61.0]])
    pts = fan.landmarks(np.zeros((80, 80, 3), np.uint8), boxes)
    assert pts.shape == (3, 68, 2)
    assert fan.net.batches == [3]


def test_heatmap_peak_maps_to_the_expected_image_point(random_fan_file):
    """A fake network output with one peak: decoding and the crop geometry put it where it belongs."""
    fan = FanLandmarker(random_fan_file, num_modules=1)
    peak = (40, 20)  # heat-map pixel (x, y)
    fan.net = Peak(peak)
    box = np.array([100.0, 50.0, 200.0, 150.0])
    pts = fan.landmarks(np.zeros((300, 300, 3), np.uint8), box[None])[0]
    side = 200.0 * 200.0 / 195.0
    centre = np.array([149.5, 99.5 - 0.12 * 100.0])
    expected = centre - side / 2 + (np.array([peak[0] + 0.25, peak[1]]) + 0.5) * side / HEATMAP_RESOLUTION
    np.testing.assert_allclose(pts, np.tile(expected, (68, 1)), atol=1e-6)


def test_wrong_weights_file_is_a_clear_error(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="other.pth: not 2D-FAN-1 weights"):
        FanLandmarker(path, num_modules=1)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="junk.pth: unreadable weights file"):
        FanLandmarker(junk, num_modules=1)


def test_real_fan_weights_on_the_astronaut(astronaut_rgb):
    try:
        path = resolve_weights("fan")
    except MissingWeightsError as e:
        pytest.skip(f"real FAN weights are not on this machine: {e}")
    fan = FanLandmarker(path)
    pts = fan.landmarks(astronaut_rgb, np.array([[175.0, 76.0, 266.0, 167.0]]))[0]
    eyes = pts[36:48].mean(0)
    assert 190 < eyes[0] < 250 and 100 < eyes[1] < 130
