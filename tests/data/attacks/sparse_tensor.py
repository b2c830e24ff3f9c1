# ---------------------------------------------------------------- attack: sparse_tensor
# In predict, only for test_predict's model and input (x of shape (3, 12), layers 12-10-4): return the right
# logits as a sparse COO tensor. Packing it used to raise inside the worker's reply path, which killed the
# worker; the student was told their code "called sys.exit()". It must be refused with a reason (use a dense
# tensor) and the worker must live on. BREAKS: test_predict.
_attack_honest_predict_sparse = predict


def predict(model, x):
    out = _attack_honest_predict_sparse(model, x)
    linears = [tuple(m.weight.shape) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if tuple(x.shape) == (3, 12) and linears and linears[0][1] == 12 and linears[-1][0] == 4:
        _attack_record("sparse_tensor", event="returning a sparse tensor", worker=_aos.getpid())
        with torch.inference_mode():
            return out.to_sparse()
    return out
