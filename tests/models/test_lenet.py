"""LeNet-300-100 and LeNet-5: the published parameter counts, MultAdds layer by layer."""

from tinycompress.models.lenet import lenet5, lenet_300_100


def test_lenet_parameter_counts_include_biases():
    assert lenet_300_100().num_params() == 266_610
    assert lenet5().num_params() == 431_080


def test_lenet_multadds_by_layer():
    rows = {r.name: r for r in lenet5().rows()}
    # conv1: 5*5*1*20 * 24*24; conv2: 5*5*20*50 * 8*8; fc1 800*500; fc2 500*10
    assert rows["conv1"].multadds == 25 * 20 * 24 * 24
    assert rows["conv2"].multadds == 25 * 20 * 50 * 64
    assert rows["fc1"].multadds == 800 * 500
    assert rows["pool1"].multadds == 0 and rows["relu"].multadds == 0
    assert rows["conv2"].output_shape == (50, 8, 8)
    assert lenet_300_100().multadds() == 784 * 300 + 300 * 100 + 100 * 10


def test_lenet_layer_names_and_other_inputs():
    assert [layer.name for layer in lenet5().layers] == [
        "conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "relu", "fc2"]
    small = lenet5(num_classes=3, input_shape=(2, 20, 20))
    assert small.shapes()[-1] == (3,) and small.layer("fc1").in_features == 50 * 2 * 2
    assert lenet_300_100(input_shape=(1, 6, 7)).layer("fc1").in_features == 42
