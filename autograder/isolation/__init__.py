"""Running student code in its own unprivileged process: codec, worker, runner-side proxy, sandbox."""
