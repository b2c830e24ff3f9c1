# ---------------------------------------------------------------- attack: sockets
# At import: reach the test's listener on 127.0.0.1 (a stand-in for any service on the grading machine) and an
# outside address (1.1.1.1, DNS). Traffic to the outside is attempted only when this process sees no network
# interface but loopback, i.e. when the sandbox's network namespace is in place: this test never sends
# anything off the machine, even if the sandbox is broken.
def _attack_sockets():
    import socket

    try:
        interfaces = [name for _, name in socket.if_nameindex()]
    except OSError:  # the sandbox refuses even if_nameindex's netlink socket: read this network namespace's list
        with open("/proc/net/dev") as devices:
            interfaces = [line.split(":")[0].strip() for line in devices.readlines()[2:]]
    isolated = interfaces == ["lo"]
    attempts = []

    def tcp(host, port):
        with socket.create_connection((host, port), timeout=3) as connection:
            connection.sendall(b"PWNED: hello from the submission\n")
            return "connected"

    attempts.append(_attack_try(f"tcp 127.0.0.1:{_ATTACK_CONFIG['port']}", lambda: tcp("127.0.0.1", _ATTACK_CONFIG["port"])))
    attempts.append(_attack_try("tcp localhost (name)", lambda: tcp("localhost", _ATTACK_CONFIG["port"])))

    def listen():
        server = socket.socket()
        server.bind(("0.0.0.0", 0))
        server.listen()
        port = server.getsockname()[1]
        server.close()
        return f"listening on port {port} (inside our own namespace)"

    attempts.append(_attack_try("listen", listen))
    if isolated:
        def udp():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(b"\0" * 12, ("1.1.1.1", 53))
                return "sent"

        attempts.append(_attack_try("tcp 1.1.1.1:53", lambda: tcp("1.1.1.1", 53)))
        attempts.append(_attack_try("udp 1.1.1.1:53", udp))
        attempts.append(_attack_try("resolve example.com", lambda: socket.getaddrinfo("example.com", 443)[:1]))
    _attack_record("sockets", interfaces=interfaces, isolated=isolated, attempts=attempts,
                   outside="tried" if isolated else "not tried: this process sees real interfaces (no sandbox)")


_attack_sockets()
