"""A TCP forwarder standing for the line between a site and the centre: the
test cuts it (the listening socket and every open connection close, so the
site's requests are refused) and restores it on the same port."""

from __future__ import annotations

import contextlib
import socket
import threading


class LinkProxy:
    def __init__(self, port: int, target_port: int) -> None:
        self.port = port
        self.target = ("127.0.0.1", target_port)
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.up = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self._listener, self.up = s, True
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def cut(self) -> None:
        self.up = False
        with self._lock:
            socks = [self._listener, *self._conns] if self._listener else list(self._conns)
            self._listener, self._conns = None, []
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if not self.up:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)
