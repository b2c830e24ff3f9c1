# ---------------------------------------------------------------- attack: header_bomb
# In layer_flops with a mode it does not know (test_layer_flops_rejects_unknown_mode): replace the worker's
# codec.send so that the reply is a hand-made frame whose JSON header is 63 MiB of empty lists. Parsing it drove
# the runner (no memory limit) to 2.9 GB before the reply was refused. The runner must refuse it without
# parsing it. BREAKS: test_layer_flops_rejects_unknown_mode.
_attack_honest_layer_flops_hb = layer_flops


def _attack_header_bomb_frame(mib=63):
    from autograder.isolation import codec

    count = mib * 1024 * 1024 // 3
    header = b'{"v":{"$d":[["ok",[' + b"[]," * (count - 1) + b'[]]]]},"b":[]}'
    pad = -(codec.FRAME.size + len(header)) % codec.ALIGN
    body = header + b" " * pad
    return codec.FRAME.pack(len(body), len(header) + pad) + body


def layer_flops(layer_sizes, batch_size, mode):
    if mode not in ("inference", "training"):
        frame = _attack_header_bomb_frame()
        _attack_record("header_bomb", event="sending", bytes=len(frame))
        from autograder.isolation import codec

        honest_send = codec.send

        def send(fd, value, *args, **kwargs):
            codec.send = honest_send
            view = memoryview(frame)
            while view:
                view = view[_aos.write(fd, view):]

        codec.send = send
        return [0]
    return _attack_honest_layer_flops_hb(layer_sizes, batch_size, mode)
