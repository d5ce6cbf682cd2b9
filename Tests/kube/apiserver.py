#!/usr/bin/env python3
"""A stand-in Kubernetes API server for xdpnat's tests.

It speaks the API's wire format for what xdpnatd uses, in the shapes
kube-apiserver answers with (see Tests/kube/fixtures/):
  - list: `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":..,"continue":..},"items":[..]}`
    with limit/continue paging; items carry no kind/apiVersion, as in the real API;
  - watch (?watch=1&resourceVersion=N&allowWatchBookmarks=true&timeoutSeconds=S): a chunked
    stream of `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{..}}` lines; a watch
    from a compacted version gets an ERROR event with a 410 Expired Status, a too-old
    continue token gets HTTP 410;
  - PATCH .../status with application/merge-patch+json (RFC 7386), status only, with a
    metadata.resourceVersion precondition (409 Conflict);
  - coordination.k8s.io/v1 Leases: GET, POST (409 AlreadyExists), PUT (409 on a stale version);
  - bearer-token authentication (401 Unauthorized Status).
Test control (no auth) under /_test/: POST objects, POST delete, POST compact, POST fail,
POST close-watches, GET state, GET requests.

Usage: apiserver.py --listen ADDR:PORT --token T [--tls-cert F --tls-key F] [--bookmark-seconds S]
"""
import argparse
import base64
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

KINDS = {
    # kind: (group/version prefix, plural, namespaced)
    "Pod": ("/api/v1", "pods", True),
    "Namespace": ("/api/v1", "namespaces", False),
    "NATPool": ("/apis/xdpnat.io/v1alpha1", "natpools", False),
    "EgressNAT": ("/apis/xdpnat.io/v1alpha1", "egressnats", True),
    "Lease": ("/apis/coordination.k8s.io/v1", "leases", True),
}
API_VERSION = {"Pod": "v1", "Namespace": "v1", "NATPool": "xdpnat.io/v1alpha1",
               "EgressNAT": "xdpnat.io/v1alpha1", "Lease": "coordination.k8s.io/v1"}
HAS_STATUS = {"NATPool", "EgressNAT"}


def status_body(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class Store:
    def __init__(self):
        self.lock = threading.Condition()
        self.rv = 1000
        self.objects = {k: {} for k in KINDS}  # kind -> {(ns, name): obj}
        self.history = []  # (rv, kind, type, obj)
        self.compacted = 0  # watches from a version below this get 410
        self.watch_epoch = 0  # bumped to close every open watch
        self.fail = []  # pending injected failures (HTTP codes)
        self.requests = []

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def put(self, obj, event=None):
        """Creates or replaces an object (test control or API write); returns it."""
        kind = obj["kind"]
        meta = obj.setdefault("metadata", {})
        if KINDS[kind][2]:
            meta.setdefault("namespace", "default")
        key = (meta.get("namespace"), meta["name"])
        old = self.objects[kind].get(key)
        if old is None:
            meta.setdefault("uid", "uid-%s-%d" % (meta["name"], self.rv))
            meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            meta["generation"] = 1
        else:
            meta["uid"] = old["metadata"]["uid"]
            meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            meta["generation"] = old["metadata"].get("generation", 1) + (0 if old.get("spec") == obj.get("spec") else 1)
        obj["apiVersion"] = API_VERSION[kind]
        meta["resourceVersion"] = self.next_rv()
        self.objects[kind][key] = obj
        self.history.append((self.rv, kind, event or ("ADDED" if old is None else "MODIFIED"), json.loads(json.dumps(obj))))
        self.lock.notify_all()
        return obj

    def delete(self, kind, ns, name):
        obj = self.objects[kind].pop((ns if KINDS[kind][2] else None, name), None)
        if obj is None:
            return None
        obj["metadata"]["resourceVersion"] = self.next_rv()
        self.history.append((self.rv, kind, "DELETED", json.loads(json.dumps(obj))))
        self.lock.notify_all()
        return obj


STORE = Store()
ARGS = None


def route(path):
    """(kind, namespace, name, subresource) of an API path, or None."""
    for kind, (prefix, plural, namespaced) in KINDS.items():
        if not path.startswith(prefix + "/"):
            continue
        rest = path[len(prefix) + 1:].split("/")
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] == plural and namespaced:
            ns, rest = rest[1], rest[2:]
        if rest[0] != plural:
            continue
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        return kind, ns, name, sub
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, reason, message):
        self.send_json(code, status_body(code, reason, message))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")

    def dispatch(self, method):
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/_test/"):
            return self.control(method, url.path, q)
        with STORE.lock:
            STORE.requests.append("%s %s" % (method, self.path))
            injected = STORE.fail.pop(0) if STORE.fail else None
        if self.headers.get("Authorization") != "Bearer " + ARGS.token:
            return self.error(401, "Unauthorized", "Unauthorized")
        if injected:
            return self.error(injected, "InternalError", "injected failure")
        r = route(url.path)
        if r is None:
            return self.error(404, "NotFound", "the server could not find the requested resource")
        kind, ns, name, sub = r
        if method == "GET" and name is None:
            if q.get("watch") in ("1", "true"):
                return self.watch(kind, ns, q)
            return self.list(kind, ns, q)
        if method == "GET":
            return self.get(kind, ns, name)
        if method == "PATCH" and sub == "status":
            return self.patch_status(kind, ns, name)
        if kind == "Lease" and method in ("POST", "PUT"):
            return self.write_lease(method, ns, name)
        return self.error(405, "MethodNotAllowed", "%s is not supported by the stand-in here" % method)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    # --- API ---

    def not_found(self, kind, name):
        plural = KINDS[kind][1]
        group = KINDS[kind][0].split("/")[2] if KINDS[kind][0].startswith("/apis/") else ""
        self.send_json(404, status_body(404, "NotFound", '%s%s "%s" not found' % (plural, "." + group if group else "", name),
                                        {"name": name, "group": group, "kind": plural}))

    def get(self, kind, ns, name):
        with STORE.lock:
            obj = STORE.objects[kind].get((ns, name))
            obj = json.loads(json.dumps(obj)) if obj else None
        if obj is None:
            return self.not_found(kind, name)
        obj["kind"] = kind
        self.send_json(200, obj)

    def list(self, kind, ns, q):
        limit = int(q.get("limit") or 0)
        with STORE.lock:
            if q.get("continue"):
                tok = json.loads(base64.b64decode(q["continue"]))
                if tok["rv"] < STORE.compacted:
                    return self.error(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results.")
                list_rv, start = tok["rv"], tok["start"]
                # a consistent snapshot: the objects as they were at list_rv
                items = self.snapshot_at(kind, list_rv)
            else:
                list_rv, start = STORE.rv, 0
                items = [json.loads(json.dumps(o)) for o in STORE.objects[kind].values()]
        items = [o for o in items if ns is None or o["metadata"].get("namespace") == ns]
        items.sort(key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        page = items[start:start + limit] if limit else items[start:]
        meta = {"resourceVersion": str(list_rv)}
        if limit and start + limit < len(items):
            meta["continue"] = base64.b64encode(json.dumps({"rv": list_rv, "start": start + limit}).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        for o in page:  # list items carry no kind/apiVersion in the real API
            o.pop("kind", None)
            o.pop("apiVersion", None)
        self.send_json(200, {"kind": kind + "List", "apiVersion": API_VERSION[kind], "metadata": meta, "items": page})

    def snapshot_at(self, kind, rv):
        objs = {}
        for (erv, k, typ, obj) in STORE.history:
            if k != kind or erv > rv:
                continue
            key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if typ == "DELETED":
                objs.pop(key, None)
            else:
                objs[key] = json.loads(json.dumps(obj))
        return list(objs.values())

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, kind, ns, q):
        since = int(q.get("resourceVersion") or 0)
        deadline = time.time() + float(q.get("timeoutSeconds") or 1800)
        bookmarks = q.get("allowWatchBookmarks") == "true"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            with STORE.lock:
                epoch = STORE.watch_epoch
                if since < STORE.compacted:
                    self.chunk({"type": "ERROR", "object": status_body(
                        410, "Expired", "too old resource version: %d (%d)" % (since, STORE.compacted))})
                    self.wfile.write(b"0\r\n\r\n")
                    return
            sent = since
            last_bookmark = time.time()
            while time.time() < deadline:
                with STORE.lock:
                    if STORE.watch_epoch != epoch:
                        break
                    events = [(rv, t, o) for (rv, k, t, o) in STORE.history
                              if k == kind and rv > sent and (ns is None or o["metadata"].get("namespace") == ns)]
                    current = STORE.rv
                    if not events:
                        STORE.lock.wait(0.2)
                for rv, typ, obj in events:
                    obj = json.loads(json.dumps(obj))
                    obj["kind"] = kind
                    self.chunk({"type": typ, "object": obj})
                    sent = rv
                if not events and bookmarks and time.time() - last_bookmark >= ARGS.bookmark_seconds:
                    sent = max(sent, current)
                    self.chunk({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": API_VERSION[kind],
                                                               "metadata": {"resourceVersion": str(sent)}}})
                    last_bookmark = time.time()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def patch_status(self, kind, ns, name):
        if kind not in HAS_STATUS:
            return self.error(404, "NotFound", "no status subresource")
        if self.headers.get("Content-Type") != "application/merge-patch+json":
            return self.error(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        patch = self.body()
        with STORE.lock:
            obj = STORE.objects[kind].get((ns, name))
            if obj is None:
                return self.not_found(kind, name)
            want = (patch.get("metadata") or {}).get("resourceVersion")
            if want is not None and want != obj["metadata"]["resourceVersion"]:
                return self.send_json(409, status_body(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the object has been modified; please apply your changes to the latest version and try again' % (KINDS[kind][1], name)))
            new = json.loads(json.dumps(obj))
            new["status"] = merge_patch(obj.get("status") or {}, patch.get("status") or {})
            new = STORE.put(new, "MODIFIED")
            out = json.loads(json.dumps(new))
        out["kind"] = kind
        self.send_json(200, out)

    def write_lease(self, method, ns, name):
        lease = self.body()
        lease["kind"] = "Lease"
        lease.setdefault("metadata", {})["namespace"] = ns
        with STORE.lock:
            if method == "POST":
                name = lease["metadata"].get("name")
                if (ns, name) in STORE.objects["Lease"]:
                    return self.send_json(409, status_body(409, "AlreadyExists", 'leases.coordination.k8s.io "%s" already exists' % name))
                out = STORE.put(lease)
                return self.send_json(201, out)
            old = STORE.objects["Lease"].get((ns, name))
            if old is None:
                return self.not_found("Lease", name)
            if lease["metadata"].get("resourceVersion") != old["metadata"]["resourceVersion"]:
                return self.send_json(409, status_body(409, "Conflict", 'Operation cannot be fulfilled on leases.coordination.k8s.io "%s": the object has been modified; please apply your changes to the latest version and try again' % name))
            out = STORE.put(lease)
            return self.send_json(200, out)

    # --- test control ---

    def control(self, method, path, q):
        if path == "/_test/objects" and method == "POST":
            body = self.body()
            objs = body if isinstance(body, list) else [body]
            with STORE.lock:
                out = [STORE.put(o) for o in objs]
            return self.send_json(200, out)
        if path == "/_test/delete" and method == "POST":
            b = self.body()
            with STORE.lock:
                gone = STORE.delete(b["kind"], b.get("namespace", "default"), b["name"])
            return self.send_json(200 if gone else 404, gone or {})
        if path == "/_test/compact" and method == "POST":
            with STORE.lock:
                STORE.compacted = STORE.rv + 1
                STORE.next_rv()
                STORE.watch_epoch += 1
                STORE.lock.notify_all()
            return self.send_json(200, {"compacted": STORE.compacted})
        if path == "/_test/close-watches" and method == "POST":
            with STORE.lock:
                STORE.watch_epoch += 1
                STORE.lock.notify_all()
            return self.send_json(200, {})
        if path == "/_test/fail" and method == "POST":
            b = self.body()
            with STORE.lock:
                STORE.fail += [b.get("code", 500)] * b.get("count", 1)
                STORE.watch_epoch += 1  # open watches end; reopening them meets the failures
                STORE.lock.notify_all()
            return self.send_json(200, {})
        if path == "/_test/state" and method == "GET":
            with STORE.lock:
                state = {k: list(v.values()) for k, v in STORE.objects.items()}
            return self.send_json(200, state)
        if path == "/_test/requests" and method == "GET":
            with STORE.lock:
                reqs = list(STORE.requests)
            return self.send_json(200, reqs)
        return self.error(404, "NotFound", "unknown test control " + path)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--bookmark-seconds", type=float, default=1.0)
    ARGS = p.parse_args()
    host, port = ARGS.listen.rsplit(":", 1)
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    if ARGS.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening on %s" % ARGS.listen, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
