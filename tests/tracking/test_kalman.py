import numpy as np
import pytest

from storelens.tracking.kalman import CHI2_99_4DOF, BoxKalman


@pytest.fixture
def kf():
    return BoxKalman(position_noise=0.25, velocity_noise=0.8, measurement_noise=0.05)


def test_initiate_and_zero_dt_predict_is_identity(kf):
    z = np.array([[100.0, 200.0, 48.0, 120.0], [10.0, 20.0, 25.0, 50.0]])
    mean, cov = kf.initiate(z)
    np.testing.assert_array_equal(mean[:, :4], z)
    assert (mean[:, 4:] == 0).all()
    m2, c2 = kf.predict(mean, cov, np.zeros(2))
    np.testing.assert_array_equal(m2, mean)
    np.testing.assert_allclose(c2, cov)


def test_prediction_is_time_aware(kf):
    z = np.array([[100.0, 200.0, 48.0, 120.0]])
    mean, cov = kf.initiate(z)
    mean[:, 4:6] = [50.0, -20.0]  # px per second
    one, c_one = kf.predict(mean, cov, np.array([0.5]))
    two, _ = kf.predict(*kf.predict(mean, cov, np.array([0.25])), np.array([0.25]))
    np.testing.assert_allclose(one[0, :2], [125.0, 190.0])
    np.testing.assert_allclose(one, two)
    _, c_long = kf.predict(mean, cov, np.array([2.0]))
    assert np.trace(c_long[0]) > np.trace(c_one[0])  # longer gaps, wider uncertainty
    assert (np.linalg.eigvalsh(c_long[0]) > 0).all()


def test_update_moves_towards_the_measurement_and_shrinks_uncertainty(kf):
    mean, cov = kf.initiate(np.array([[100.0, 200.0, 48.0, 120.0]]))
    mean, cov = kf.predict(mean, cov, np.array([0.1]))
    z = np.array([[110.0, 200.0, 48.0, 120.0]])
    new_mean, new_cov = kf.update(mean, cov, z)
    assert 100.0 < new_mean[0, 0] <= 110.0
    assert np.trace(new_cov[0, :4, :4]) < np.trace(cov[0, :4, :4])


def test_mahalanobis_gates_far_measurements(kf):
    mean, cov = kf.initiate(np.array([[100.0, 200.0, 48.0, 120.0]]))
    near = np.array([[[102.0, 201.0, 48.0, 121.0], [400.0, 200.0, 48.0, 120.0]]])
    d2 = kf.mahalanobis(mean, cov, near)
    assert d2.shape == (1, 2)
    assert d2[0, 0] < CHI2_99_4DOF < d2[0, 1]


def test_empty_batches(kf):
    mean, cov = kf.initiate(np.zeros((0, 4)))
    assert mean.shape == (0, 8) and cov.shape == (0, 8, 8)
    m, c = kf.predict(mean, cov, np.zeros(0))
    assert m.shape == (0, 8)
    m, c = kf.update(mean, cov, np.zeros((0, 4)))
    assert c.shape == (0, 8, 8)
