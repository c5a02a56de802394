# A stand-in for systemd's notify socket: binds an AF_UNIX datagram socket
# at argv[1] and prints each message it receives as one JSON line, so a Node
# test (Node cannot open AF_UNIX datagram sockets) can read what
# systemd-notify sent. Passed file descriptors (systemd-notify's BARRIER=1
# pipe) are not accepted, which closes them and lets systemd-notify return.
import json
import socket
import sys

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
print("LISTENING", flush=True)
while True:
    data = sock.recv(65536)
    print(json.dumps(data.decode("utf-8", "replace")), flush=True)
