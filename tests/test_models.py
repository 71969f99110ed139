import torch

from digitlab.models import CNNClassifier, DigitNet, build_model, count_parameters


def test_seed_arch_matches_the_labs_keras_model():
    model = build_model("seed")
    assert isinstance(model, CNNClassifier)
    assert count_parameters(model) == 176_170
    conv, dense1, dense2, dense3 = (m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.padding) == (1, 32, (3, 3), (0, 0))
    assert [(d.in_features, d.out_features) for d in (dense1, dense2, dense3)] == [(5408, 32), (32, 64), (64, 10)]
    x = torch.zeros(2, 1, 28, 28)
    assert model.features(x).shape == (2, 32, 13, 13)
    assert model(x).shape == (2, 10)


def test_default_arch_shapes():
    model = build_model("default")
    assert isinstance(model, DigitNet)
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert count_parameters(model) < 150_000
