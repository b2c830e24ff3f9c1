# ---------------------------------------------------------------- attack: oversize_frame
# In relu_backward, only for test_relu_backward's input (x of shape (5, 7), contiguous, x[0, :3] == 0): the
# reply's frame header announces a 3 GiB message (over the spec's max_return_mb), then a little data and a
# stall. The runner must refuse it from the header alone, without waiting or allocating. BREAKS: test_relu_backward.
_attack_honest_relu_backward_of = relu_backward


def relu_backward(grad_output, x):
    if tuple(x.shape) == (5, 7) and x.is_contiguous() and bool((x[0, :3] == 0).all()):
        from autograder.isolation import codec

        honest_send = codec.send

        def send(fd, value, *args, **kwargs):
            codec.send = honest_send
            _attack_record("oversize_frame", event="announcing 3 GiB")
            _aos.write(fd, codec.FRAME.pack(3 * 2 ** 30, 16) + b"{" * 1024)

        codec.send = send
    return _attack_honest_relu_backward_of(grad_output, x)
