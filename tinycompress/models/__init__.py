"""The architectures of the zoo: ``lenet`` (LeNet-300-100, LeNet-5), ``vgg`` (VGG-16, for
counting), ``mobilenet`` (MobileNetV1 and the MNIST MobileNet). Names and shipped weights:
:mod:`tinycompress.zoo`."""
