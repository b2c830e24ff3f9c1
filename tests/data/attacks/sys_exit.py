# ---------------------------------------------------------------- attack: sys_exit
# In sgd_step (called only by test_sgd_step_matches_reference): sys.exit(0) in the middle of a test, which would
# end an in-process pytest run "successfully". BREAKS: test_sgd_step_matches_reference.
def sgd_step(model, x, targets, lr):
    _attack_record("sys_exit", event="sys.exit(0) inside sgd_step")
    _asys.exit(0)
