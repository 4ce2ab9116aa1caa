"""A small Streamlit client without a browser: it speaks the app's own websocket protocol, so a load test can
drive many sessions while spending its CPU on almost nothing but reading the server's messages.

What it does, and what the browser does that it copies (Streamlit 1.67; read from the server,
`streamlit/web/server/starlette/starlette_websocket.py`, `runtime/app_session.py`, `runtime/fragment.py`, and the
frontend's `App.tsx`, `WebsocketConnection.tsx` and `render-tree/` in the shipped bundle):

- Connecting: GET `/_stcore/health` and `/_stcore/host-config` (as the frontend does first), then a websocket to
  `/_stcore/stream` with the subprotocols `["streamlit", <XSRF token or "PLACEHOLDER_AUTH_TOKEN">]` (a third
  entry would resume an old session id). Binary frames only: `BackMsg` up, `ForwardMsg` down.
- Nothing runs until the client asks: a `BackMsg.rerun_script` (`ClientState`) carries the query string, the page
  (`page_name` = the URL path on first load, then `page_script_hash`), the widget states, `fragment_id` and
  `is_auto_rerun`, and the hashes of large messages the client has cached (the server then sends `ref_hash`).
- A run is `new_session` (its `metadata.run`: script run id and fragment ids, empty for a full run) ... deltas ...
  `script_finished` (status and the same run identity). A delta sits at `metadata.delta_path` = [container (0 main,
  1 sidebar, 2 event, 3 bottom), index, index, ...]: `new_element` replaces or appends an element, `add_block` a
  block (a block of the same type keeps its children), `delta.fragment_id` marks a fragment's elements. After a
  successful run, nodes the run did not send are stale and removed, as the frontend's ClearStaleNodeVisitor does
  (for a fragment run, only inside that fragment).
- `st.fragment(run_every=s)`: each time the fragment is registered the server sends `ForwardMsg.auto_rerun`
  (interval, fragment id); the browser starts a `setInterval` (kept if the interval is unchanged) that sends
  `rerun_script` with that `fragment_id`, `is_auto_rerun` and the current widget states. A full run's
  `new_session` clears every timer; `stop_auto_rerun` clears the ones it names.
- Pages (st.navigation): the first run names its page by URL path (`page_name`); the `navigation` message then
  says which page ran (`page_script_hash`) and lists the pages; later reruns send that hash. (`new_session`'s
  own `page_script_hash` is the main script's until the router has run: sending it back opens the default page.)
  A page change drops the old page's elements that the new run has not re-sent.
- Widgets: a keyed widget's id is `$$ID-<hash>-<key>`; a click is a rerun with `trigger_value` set for the
  button's id, once, in the button's fragment if it has one. Widgets not in the states keep their last value.
- Reading the page: only when the last run finished successfully is the tree whole. A run reported
  FINISHED_EARLY_FOR_RERUN may have replaced half the page (and the frontend then keeps its stale nodes); under
  load the server reports that for most fragment runs, the next rerun being queued already. So `wait_for`
  evaluates its predicate inside the reader at those moments only, and returns what the predicate returned.

Not copied: static assets (index.html, the JS bundles) are not fetched (Streamlit serves /static uncompressed,
so skipping them spares the test far more than the server); transient elements (spinners) are ignored.

    async with StClient("http://127.0.0.1:8501") as c:
        await c.open("train", "task.lag=20&train.seed=1")       # http://127.0.0.1:8501/train?task.lag=20&...
        await c.click("tr_play")
        await c.wait_for(lambda c: c.metric("LSTM: held-out accuracy") is not None, timeout=60)
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

CONTAINERS = ("main", "sidebar", "event", "bottom")  # delta_path[0]
KEY_PREFIX = "$$ID-"  # streamlit.elements.lib.utils: f"{GENERATED_ELEMENT_ID_PREFIX}-{hash}-{user_key}"
SUCCESS = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)  # then stale nodes go
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ClientError(RuntimeError):
    """The connection closed, a wait timed out, or the server sent something this client cannot apply."""


@dataclass
class Node:
    """A node of the element tree: an element (`element` set) or a block with children."""

    element: object | None = None  # streamlit.proto.Element_pb2.Element
    block: object | None = None  # streamlit.proto.Block_pb2.Block; None with no element: a root container
    children: list[Node] = field(default_factory=list)
    run_id: str = ""  # the script run that last sent (or, for a block, touched) this node
    fragment_id: str = ""

    @property
    def type(self) -> str:
        """The element's type ("button", "plotly_chart", "markdown", ...) or the block's ("vertical", ...)."""
        if self.element is not None:
            return self.element.WhichOneof("type") or ""
        if self.block is not None:
            return self.block.WhichOneof("type") or ""
        return "root"

    @property
    def proto(self):
        """The element's own message (`element.button`, `element.metric`, ...)."""
        return getattr(self.element, self.type)

    @property
    def widget_id(self) -> str:
        p = self.proto if self.element is not None else None
        return getattr(p, "id", "") if p is not None and "id" in p.DESCRIPTOR.fields_by_name else ""

    @property
    def key(self) -> str | None:
        """The user key of a widget (`st.button(..., key="tr_play")`), None without one."""
        wid = self.widget_id
        if not wid.startswith(KEY_PREFIX):
            return None
        key = wid[len(KEY_PREFIX):].split("-", 1)[-1]
        return None if key == "None" else key

    def walk(self):
        """This node and all below it, in the page's order."""
        yield self
        for c in self.children:
            yield from c.walk()


@dataclass
class Run:
    start_seq: int  # number of messages received when its new_session arrived
    fragment_ids: tuple[str, ...]
    status: int | None = None  # ForwardMsg.ScriptFinishedStatus once finished


def _set_in(block: Node, path: list[int], node: Node, run_id: str) -> None:
    """Put `node` at `path` below `block`, marking the blocks on the way as touched by this run."""
    block.run_id = run_id
    i, rest = path[0], path[1:]
    if rest:
        if i >= len(block.children) or block.children[i].element is not None:
            raise ClientError(f"delta path {path} does not lead to a block")
        _set_in(block.children[i], rest, node, run_id)
    elif i < len(block.children):
        block.children[i] = node
    elif i == len(block.children):
        block.children.append(node)
    else:
        raise ClientError(f"delta path index {i} past the end of a block of {len(block.children)}")


def _get_in(block: Node, path: list[int]) -> Node | None:
    for i in path:
        if block.element is not None or i >= len(block.children):
            return None
        block = block.children[i]
    return block


def _clear_stale(node: Node, run_id: str, fragments: tuple[str, ...], in_fragment: str = "") -> Node | None:
    """The frontend's ClearStaleNodeVisitor: drop what run `run_id` did not send (in a fragment run, only
    inside the fragments it reran). Returns the node, or None to drop it."""
    if node.element is None:
        sub = in_fragment
        if not fragments:
            if node.run_id != run_id:
                return None
        else:
            if in_fragment and node.run_id != run_id:
                return None
            if node.fragment_id and node.fragment_id in fragments and node.run_id == run_id:
                sub = node.fragment_id
        node.children = [c for c in (_clear_stale(c, run_id, fragments, sub) for c in node.children) if c]
        node.run_id = run_id
        return node
    if fragments and (not node.fragment_id or not in_fragment or node.run_id == run_id):
        return node
    return node if node.run_id == run_id else None


def plotly_array(v):
    """A plotly JSON array as a list: plain lists as they are, typed arrays ({"dtype", "bdata"}) decoded."""
    if isinstance(v, dict) and "bdata" in v:
        import numpy as np

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return v


class StClient:
    """One browser tab's worth of Streamlit session, driven from asyncio. Every wait has a timeout."""

    def __init__(self, url: str, timeout: float = 60.0, cache_messages: bool = True):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.cache_messages = cache_messages
        self.roots = {name: Node() for name in CONTAINERS}
        self.query_string = ""
        self.page_script_hash = ""
        self.pages: list = []  # AppPage protos from the latest `navigation` message
        self.run_id = ""
        self.running = False
        self.widget_states: dict[str, WidgetState] = {}  # values set through set_value, sent with every rerun
        self.opened_at: float | None = None  # time.perf_counter() when open() was called
        self.first_chart_at: float | None = None  # ... when the first plotly chart arrived after that
        self.error: str | None = None  # set when the connection is gone or a message could not be applied
        self.stats = {"messages": 0, "bytes": 0, "runs": 0, "fragment_runs": 0, "auto_reruns_sent": 0,
                      "reruns_sent": 0, "cache_hits": 0, "transients": 0, "misplaced_deltas": 0}
        self.history: list[str] = []  # the last runs: "+full 1a2b3c", "-fragment 1a2b3c: FINISHED_..." (debugging)
        self._seq = 0
        self._runs: dict[str, Run] = {}
        self._auto: dict[str, tuple[float, asyncio.Task]] = {}
        self._cache: dict[str, tuple[ForwardMsg, int]] = {}  # hash -> (message, run count when last seen)
        self._finished_runs = 0
        self._max_cache_age = 2
        self._waiters: list[tuple[Callable, asyncio.Future]] = []
        self._settled = False  # the last run finished successfully and no other has started: the tree is whole
        self._ws = None
        self._reader: asyncio.Task | None = None

    # -- connection -------------------------------------------------------------------------------------------
    async def __aenter__(self) -> StClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self) -> None:
        def get(path: str) -> bytes:
            with NO_PROXY.open(f"{self.url}/{path}", timeout=self.timeout) as r:
                return r.read()

        await asyncio.to_thread(get, "_stcore/health")
        await asyncio.to_thread(get, "_stcore/host-config")
        ws_url = "ws" + self.url[len("http"):] + "/_stcore/stream"
        self._ws = await connect(ws_url, subprotocols=["streamlit", "PLACEHOLDER_AUTH_TOKEN"], max_size=None,
                                 proxy=None, open_timeout=self.timeout, user_agent_header="st_client")
        self._reader = asyncio.create_task(self._read(), name="st_client-read")

    async def close(self) -> None:
        for _, task in self._auto.values():
            task.cancel()
        self._auto.clear()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    # -- actions ----------------------------------------------------------------------------------------------
    async def open(self, path: str = "", query: str = "", wait: bool = True) -> None:
        """What typing http://HOST/<path>?<query> into the address bar does: a first run of that page."""
        self.opened_at, self.first_chart_at = time.perf_counter(), None
        self.query_string = query.lstrip("?")
        await self.rerun(page_script_hash="", page_name=path.strip("/"), wait=wait)

    async def rerun(self, fragment_id: str = "", *, page_script_hash: str | None = None, page_name: str = "",
                    triggers: tuple[WidgetState, ...] = (), wait: bool = True, timeout: float | None = None) -> None:
        """Ask for a run (the whole page, or one fragment); with `wait`, until it has finished."""
        seq = await self._send_rerun(fragment_id, page_script_hash=page_script_hash, page_name=page_name,
                                     triggers=triggers)
        if wait:
            what = f"the run of fragment {fragment_id}" if fragment_id else "the run"
            await self.wait_for(lambda c: c._finished_since(seq, fragment_id), timeout, what)

    async def click(self, key: str, wait: bool = True, timeout: float | None = None) -> None:
        """Press the button with this key (a rerun with its trigger set, in its fragment if it is in one)."""
        node = self.widget(key)
        if node is None or node.type != "button":
            raise ClientError(f"no button with key {key!r} on the page")
        if node.proto.disabled:
            raise ClientError(f"the button {key!r} ({node.proto.label}) is disabled")
        trigger = WidgetState(id=node.widget_id, trigger_value=True)
        await self.rerun(node.fragment_id, triggers=(trigger,), wait=wait, timeout=timeout)

    async def set_value(self, key: str, wait: bool = True, **value) -> None:
        """Set a widget's value and rerun, e.g. `set_value("sb_seed", int_value=3)`; the keyword names the
        WidgetState field the widget uses (bool_value, int_value, double_value, string_value, ...)."""
        node = self.widget(key)
        if node is None:
            raise ClientError(f"no widget with key {key!r} on the page")
        self.widget_states[node.widget_id] = WidgetState(id=node.widget_id, **value)
        await self.rerun(node.fragment_id, wait=wait)

    async def switch_page(self, url_path: str, query: str = "", wait: bool = True) -> None:
        """What clicking a page in the sidebar's navigation does (the query string is dropped)."""
        page = next((p for p in self.pages if p.url_pathname == url_path or p.page_name == url_path), None)
        if page is None:
            raise ClientError(f"no page {url_path!r}; the app has {[p.url_pathname for p in self.pages]}")
        self.query_string = query
        await self.rerun(page_script_hash=page.page_script_hash, wait=wait)

    async def wait_for(self, pred: Callable[[StClient], object], timeout: float | None = None,
                       what: str = "a condition") -> object:
        """Wait until `pred(self)` is truthy and return what it returned. It is called only while the tree is
        whole: now if the last run finished successfully, else right when a run does (inside the reader, before
        any later message is applied), so whatever it returns is one consistent snapshot of the page. (A run
        that ends FINISHED_EARLY_FOR_RERUN leaves the tree half replaced, or with stale nodes the browser keeps
        too; under load the server reports that status for most fragment runs, whose next rerun is already
        queued, so a long wait may see few settled moments.) Raises ClientError on timeout or a closed
        connection."""
        timeout = self.timeout if timeout is None else timeout
        if self.error:
            raise ClientError(self.error)
        if self._settled and (result := pred(self)):
            return result
        fut = asyncio.get_running_loop().create_future()
        entry = (pred, fut)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise ClientError(f"timed out after {timeout:.0f} s waiting for {what}") from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    # -- what the page shows ----------------------------------------------------------------------------------
    def nodes(self, type: str | None = None, container: str | None = None) -> list[Node]:
        """Elements (and blocks) in the page's order, optionally of one type and one root container."""
        roots = [self.roots[container]] if container else self.roots.values()
        return [n for r in roots for n in r.walk() if n is not r and (type is None or n.type == type)]

    def widget(self, key: str) -> Node | None:
        return next((n for n in self.nodes() if n.element is not None and n.key == key), None)

    def buttons(self) -> dict[str, Node]:
        return {n.key or n.proto.label: n for n in self.nodes("button")}

    def metric(self, label: str) -> str | None:
        """The value shown by the metric with this label."""
        return next((n.proto.body for n in self.nodes("metric") if n.proto.label == label), None)

    def metrics(self) -> dict[str, str]:
        return {n.proto.label: n.proto.body for n in self.nodes("metric")}

    def progress(self) -> list[str]:
        """The texts of the progress bars."""
        return [n.proto.text for n in self.nodes("progress")]

    def texts(self, container: str | None = None) -> list[str]:
        """Markdown and caption bodies, headings and alerts (error, info, ...)."""
        out = [n.proto.body for n in self.nodes("markdown", container)]
        out += [n.proto.body for n in self.nodes("heading", container)]
        return out + [n.proto.body for n in self.nodes("alert", container)]

    def exceptions(self) -> list[str]:
        return [f"{n.proto.type}: {n.proto.message}" for n in self.nodes("exception")]

    def charts(self) -> list[dict]:
        """The plotly figures as JSON (`data`, `layout`); arrays may be typed, see `plotly_array`."""
        return [json.loads(n.proto.spec) for n in self.nodes("plotly_chart")]

    # -- protocol ---------------------------------------------------------------------------------------------
    async def _send_rerun(self, fragment_id: str = "", *, auto: bool = False, page_script_hash: str | None = None,
                    page_name: str = "", triggers: tuple[WidgetState, ...] = ()) -> int:
        if self._ws is None or self.error:
            raise ClientError(self.error or "not connected")
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        cs.page_script_hash = self.page_script_hash if page_script_hash is None else page_script_hash
        cs.page_name = page_name
        cs.fragment_id = fragment_id
        cs.is_auto_rerun = auto
        cs.widget_states.widgets.extend([*self.widget_states.values(), *triggers])
        if self.cache_messages:
            cs.cached_message_hashes.extend(
                h for h, (_, seen) in self._cache.items() if self._finished_runs - seen <= self._max_cache_age)
        cs.context_info.timezone, cs.context_info.locale = "UTC", "en-US"
        cs.context_info.url = f"{self.url}/{page_name}" + (f"?{self.query_string}" if self.query_string else "")
        self.stats["auto_reruns_sent" if auto else "reruns_sent"] += 1
        seq = self._seq
        await self._ws.send(msg.SerializeToString())
        return seq

    def _finished_since(self, seq: int, fragment_id: str) -> bool:
        """Has the request sent after message `seq` been served: a run that started later and covers it (a full
        run, or a run of that fragment), and the runs chained after it have settled (called when one has)."""
        return any(r.start_seq > seq and (not r.fragment_ids or fragment_id in r.fragment_ids)
                   for r in self._runs.values())

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                self._seq += 1
                self.stats["messages"] += 1
                self.stats["bytes"] += len(data)
                msg = ForwardMsg()
                msg.ParseFromString(data)
                if self._handle(msg):
                    self._check_waiters()
            self.error = f"the server closed the connection ({self._ws.close_code})"
        except ConnectionClosed as e:
            self.error = f"the connection closed: {e}"
        except ClientError as e:
            self.error = str(e)
        except Exception as e:  # noqa: BLE001 - a message this client cannot parse or apply: fail the waits, loudly
            self.error = f"{type(e).__name__} while reading the server's messages: {e}"
        except asyncio.CancelledError:
            self.error = self.error or "closed"
            raise
        finally:
            for _, task in self._auto.values():
                task.cancel()
            self._auto.clear()
            for _, fut in self._waiters:
                if not fut.done():
                    fut.set_exception(ClientError(self.error))

    def _check_waiters(self) -> None:
        for pred, fut in list(self._waiters):
            if not fut.done() and (result := pred(self)):
                fut.set_result(result)

    def _handle(self, msg: ForwardMsg) -> bool:
        """Apply one message; True when the tree has just settled (a run finished successfully)."""
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                raise ClientError(f"the server referred to a message this client never had ({msg.ref_hash})")
            self.stats["cache_hits"] += 1
            full = ForwardMsg()
            full.CopyFrom(cached[0])
            full.metadata.CopyFrom(msg.metadata)
            msg, kind = full, full.WhichOneof("type")
        if self.cache_messages and msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = (msg, self._finished_runs)
        if kind == "delta":
            return self._apply_delta(msg)
        if kind == "new_session":
            return self._new_session(msg)
        if kind == "script_finished":
            return self._script_finished(msg)
        if kind == "auto_rerun":
            self._start_auto_rerun(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self._stop_auto_rerun(fid)
        elif kind == "session_status_changed":
            self.running = msg.session_status_changed.script_is_running
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "navigation":  # with st.navigation, this (not new_session) names the page that runs
            self.pages = list(msg.navigation.app_pages)
            if msg.navigation.page_script_hash != self.page_script_hash:
                # another page: drop the last page's elements; what this run already sent (app.py's) stays
                for name, root in self.roots.items():
                    self.roots[name] = _clear_stale(root, self.run_id, ()) or Node(run_id=self.run_id)
            self.page_script_hash = msg.navigation.page_script_hash
        return False

    def _new_session(self, msg: ForwardMsg) -> bool:
        ns, run = msg.new_session, msg.metadata.run
        fragments = tuple(run.fragment_ids)
        self.run_id = run.script_run_id
        self._runs[self.run_id] = Run(self._seq, fragments)
        self.running, self._settled = True, False
        self.stats["fragment_runs" if fragments else "runs"] += 1
        self._log(f"+{'fragment' if fragments else 'full'} {self.run_id[:6]}")
        if not fragments:
            for fid in list(self._auto):
                self._stop_auto_rerun(fid)
            self._max_cache_age = ns.config.max_cached_message_age or self._max_cache_age
        if len(self._runs) > 200:  # keep the recent runs only
            for k in list(self._runs)[:100]:
                del self._runs[k]
        return False

    def _apply_delta(self, msg: ForwardMsg) -> bool:
        delta, path = msg.delta, list(msg.metadata.delta_path)
        kind = delta.WhichOneof("type")
        if kind == "new_transient" or len(path) < 2:
            self.stats["transients"] += kind == "new_transient"
            return False
        root = self.roots[CONTAINERS[path[0]]]
        if kind == "new_element":
            node = Node(element=delta.new_element, run_id=self.run_id, fragment_id=delta.fragment_id)
        elif kind == "add_block":
            node = Node(block=delta.add_block, run_id=self.run_id, fragment_id=delta.fragment_id)
            old = _get_in(root, path[1:])
            if old is not None and old.block is not None and old.type == node.type:
                node.children = old.children  # as the frontend: a replaced block of the same type keeps them
        else:
            return False
        try:
            _set_in(root, path[1:], node, self.run_id)
        except ClientError as e:  # the browser's render tree throws here too; the next full run repairs it
            self.stats["misplaced_deltas"] += 1
            self._log(f"{kind} {node.type} at {path} (fragment {delta.fragment_id[:6]}) did not fit: {e}")
            return False
        if kind == "new_element" and node.type == "plotly_chart" and self.first_chart_at is None \
                and self.opened_at is not None:
            self.first_chart_at = time.perf_counter()
        return False

    def _script_finished(self, msg: ForwardMsg) -> bool:
        status, run = msg.script_finished, msg.metadata.run
        fragments = tuple(run.fragment_ids)
        if run.script_run_id in self._runs:
            self._runs[run.script_run_id].status = status
        self._log(f"-{'fragment' if fragments else 'full'} {run.script_run_id[:6]}: "
                  f"{ForwardMsg.ScriptFinishedStatus.Name(status)}")
        if status in SUCCESS and (fragments or run.script_run_id == self.run_id):
            for name, root in self.roots.items():
                self.roots[name] = _clear_stale(root, run.script_run_id, fragments) or Node(run_id=run.script_run_id)
        if status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            self._finished_runs += 1
            old = [h for h, (_, seen) in self._cache.items() if self._finished_runs - seen > self._max_cache_age + 4]
            for h in old:
                del self._cache[h]
        self.running = False
        self._settled = status != ForwardMsg.FINISHED_EARLY_FOR_RERUN
        return self._settled

    def _log(self, event: str) -> None:
        self.history.append(f"{time.perf_counter() - (self.opened_at or 0):.2f} {event}")
        del self.history[:-40]

    def _start_auto_rerun(self, fragment_id: str, interval: float) -> None:
        if not fragment_id or interval <= 0:
            return
        if fragment_id in self._auto and self._auto[fragment_id][0] == interval:
            return  # as the browser: the same timer keeps running
        self._stop_auto_rerun(fragment_id)
        self._auto[fragment_id] = (interval, asyncio.get_running_loop().create_task(
            self._auto_rerun(fragment_id, interval), name=f"st_client-auto-{fragment_id}"))

    def _stop_auto_rerun(self, fragment_id: str) -> None:
        entry = self._auto.pop(fragment_id, None)
        if entry is not None:
            entry[1].cancel()

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        """setInterval: a rerun of the fragment every `interval` seconds on a fixed schedule, whatever the server
        is doing (a tick that comes late is not repeated)."""
        loop = asyncio.get_running_loop()
        due = loop.time() + interval
        while not self.error:
            await asyncio.sleep(max(0.0, due - loop.time()))
            due = max(due + interval, loop.time())
            try:
                await self._send_rerun(fragment_id, auto=True)
            except (ClientError, ConnectionClosed):
                return
