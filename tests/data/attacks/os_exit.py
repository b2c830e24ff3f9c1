# ---------------------------------------------------------------- attack: os_exit
# In get_device (called only by test_get_device): the published "close the file descriptors and exit 0" attack,
# in the middle of a test. Only that test may fail (BREAKS: test_get_device); a fresh worker serves the rest.
_attack_honest_get_device_ox = get_device


def get_device():
    _attack_record("os_exit", event="closing every file descriptor, then os._exit(0)")
    _aos.closerange(0, 4096)
    _aos._exit(0)
