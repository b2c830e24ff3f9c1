# ---------------------------------------------------------------- attack: tensor_subclass
# In mlp_backward (test_mlp_backward, test_mlp_backward_random_sizes, test_mlp_backward_edge_cases): return
# the honest values as a torch.Tensor subclass whose __torch_function__, __reduce_ex__ and __eq__ would leave
# a canary file behind if they ever ran in the runner. Only the values may cross: the tests pass, no canary.
class _AttackTensor(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if not _attack_in_worker():
            open(_ATTACK_CONFIG["canary"] + "-torch-function", "w").close()
        return super().__torch_function__(func, types, args, kwargs or {})

    def __reduce_ex__(self, protocol):
        if not _attack_in_worker():
            open(_ATTACK_CONFIG["canary"] + "-tensor-reduce", "w").close()
        return super().__reduce_ex__(protocol)


_attack_honest_mlp_backward_ts = mlp_backward


def mlp_backward(model, x, targets):
    loss, grads = _attack_honest_mlp_backward_ts(model, x, targets)
    _attack_record("tensor_subclass", echo=False, event="returning _AttackTensor values")
    return loss.as_subclass(_AttackTensor), {name: g.as_subclass(_AttackTensor) for name, g in grads.items()}
