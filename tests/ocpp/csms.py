# SPDX-License-Identifier: LGPL-2.1-or-later
"""An independent OCPP 1.6J CSMS for evcp's tests, written with the `ocpp`
package (which checks every message against the OCPP JSON schemas) and
`websockets`, from PyPI (tests/ocpp/python-env).

It listens on 127.0.0.1:<port> (ws://, or wss:// with --cert/--key), and
writes one JSON object a line to --log, flushed at once, each with "ts" (seconds
of a monotonic clock) and, once a CP is connected, "cp" (its id):
  {"t": "listening"}                           ready
  {"t": "connected", "path": …, "subprotocol": …, "auth": …}
  {"t": "refused", "why": …}                   a connection refused (Basic auth)
  {"t": "disconnected", "code": …}
  {"t": "call", "id": …, "action": …, "payload": …}   a CALL from the CP
  {"t": "callresult", "id": …, "payload": …}         the CP's answers
  {"t": "callerror", "id": …, "code": …, "desc": …}
  {"t": "csms-callerror", "text": …}   the ocpp package refused a CP's CALL
  {"t": "unanswered", "action": …}     a CALL left without an answer ("silent")
  {"t": "result", "action": …, "payload": …} / {"t": "error", "action": …, "why": …}
                                               the outcome of a "call" command
Commands, one JSON object a line on stdin:
  {"call": "RemoteStartTransaction", "payload": {"idTag": "drv"}}
  {"raw": "[2, \"x\", \"Foo\", {}]"}          sent as it is
  {"big": 1048576}                             a CALL of about that many bytes
  {"set": {"boot": "Pending", "interval": 2}}  the next BootNotification answers
  {"set": {"fail": ["StartTransaction"]}}      CALLs answered with a CALLERROR
  {"set": {"silent": ["Heartbeat"]}}           CALLs never answered
  {"close": 1000}                              closes the WebSocket
"""

import argparse
import asyncio
import base64
import dataclasses
import http
import json
import re
import ssl
import sys
import time
from datetime import datetime, timezone

import websockets
from websockets.asyncio.server import serve
from ocpp.exceptions import InternalError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as Cp
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus

LOG = None
STATE = {"boot": "Accepted", "interval": 300, "tx": 1000, "cp": None, "fail": [], "silent": [],
         "configure": []}


def log(cp=None, **entry):
    entry["ts"] = time.monotonic()
    if cp is not None:
        entry["cp"] = cp
    LOG.write(json.dumps(entry) + "\n")
    LOG.flush()


def now():
    return datetime.now(timezone.utc).isoformat()


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def to_snake(value):
    if isinstance(value, dict):
        return {snake(k): to_snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_snake(v) for v in value]
    return value


def camel(name):
    first, *rest = name.split("_")
    return first + "".join(p.title() for p in rest)


def to_camel(value):
    if isinstance(value, dict):
        return {camel(k): to_camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_camel(v) for v in value]
    return value


class ChargePoint(Cp):
    async def route_message(self, raw_msg):
        try:
            msg = json.loads(raw_msg)
            kind = msg[0]
            if kind == 2:
                log(self.id, t="call", id=msg[1], action=msg[2], payload=msg[3])
                if msg[2] in STATE["silent"]:
                    log(self.id, t="unanswered", id=msg[1], action=msg[2])
                    return
            elif kind == 3:
                log(self.id, t="callresult", id=msg[1], payload=msg[2])
            elif kind == 4:
                log(self.id, t="callerror", id=msg[1], code=msg[2], desc=msg[3])
        except Exception as e:  # the ocpp package says what is wrong with it
            log(self.id, t="unparsed", text=raw_msg[:200], why=str(e))
        await super().route_message(raw_msg)

    async def _send(self, message):
        if message.startswith("[4") and "told to fail" not in message:
            log(self.id, t="csms-callerror", text=message)
        await super()._send(message)

    @on(Action.boot_notification)
    def on_boot(self, charge_point_vendor, charge_point_model, **kwargs):
        return call_result.BootNotification(current_time=now(), interval=STATE["interval"],
                                            status=RegistrationStatus(STATE["boot"]))

    @after(Action.boot_notification)
    async def after_boot(self, **kwargs):
        """--configure: ChangeConfiguration of each KEY=VALUE once a boot is accepted."""
        if STATE["boot"] != "Accepted":
            return
        for pair in STATE["configure"]:
            key, _, value = pair.partition("=")
            result = await self.call(call.ChangeConfiguration(key=key, value=value))
            log(self.id, t="configured", key=key, value=value, status=str(result.status))

    @on(Action.heartbeat)
    def on_heartbeat(self):
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status(self, connector_id, error_code, status, **kwargs):
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag):
        status = AuthorizationStatus.blocked if id_tag.startswith("BLOCKED") else AuthorizationStatus.accepted
        return call_result.Authorize(id_tag_info={"status": status})

    @on(Action.start_transaction)
    def on_start(self, connector_id, id_tag, meter_start, timestamp, **kwargs):
        if "StartTransaction" in STATE["fail"]:
            log(self.id, t="failing", action="StartTransaction")
            raise InternalError(description="told to fail")
        STATE["tx"] += 1
        status = AuthorizationStatus.blocked if id_tag.startswith("BLOCKED") else AuthorizationStatus.accepted
        return call_result.StartTransaction(transaction_id=STATE["tx"], id_tag_info={"status": status})

    @on(Action.stop_transaction)
    def on_stop(self, meter_stop, timestamp, transaction_id, **kwargs):
        return call_result.StopTransaction()

    @on(Action.meter_values)
    def on_meter_values(self, connector_id, meter_value, **kwargs):
        return call_result.MeterValues()


async def command(cp, line):
    cmd = json.loads(line)
    if "set" in cmd:
        STATE.update(cmd["set"])
    elif cp is None:
        log(t="error", action=cmd.get("call"), why="no charging point connected")
    elif "call" in cmd:
        action = cmd["call"]
        try:
            payload = getattr(call, action)(**to_snake(cmd.get("payload", {})))
            result = await cp.call(payload, suppress=False)
            log(t="result", action=action, payload=to_camel(dataclasses.asdict(result)))
        except Exception as e:
            log(t="error", action=action, why=repr(e))
    elif "raw" in cmd:
        await cp._connection.send(cmd["raw"])
    elif "big" in cmd:
        filler = "x" * int(cmd["big"])
        await cp._connection.send(json.dumps([2, "big-1", "DataTransfer", {"vendorId": "evcp", "data": filler}]))
    elif "close" in cmd:
        await cp._connection.close(code=int(cmd["close"]))


async def read_commands():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return  # the test has gone: so does the CSMS
        if line.strip():
            await command(STATE["cp"], line.decode())


def make_process_request(password):
    def process_request(connection, request):
        if password is None:
            return None
        header = request.headers.get("Authorization", "")
        cp_id = request.path.strip("/").split("/")[-1]
        expected = "Basic " + base64.b64encode(f"{cp_id}:{password}".encode()).decode()
        if header != expected:
            log(t="refused", why="bad credentials", path=request.path)
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "bad credentials\n")
        return None
    return process_request


async def handler(connection):
    path = connection.request.path
    cp = ChargePoint(path.strip("/").split("/")[-1], connection)
    log(cp.id, t="connected", path=path, subprotocol=connection.subprotocol,
        auth="Authorization" in connection.request.headers)
    STATE["cp"] = cp
    try:
        await cp.start()
    except websockets.exceptions.ConnectionClosed as e:
        log(cp.id, t="disconnected", code=e.rcvd.code if e.rcvd else None)
    finally:
        if STATE["cp"] is cp:
            STATE["cp"] = None


async def main():
    global LOG
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--boot", default="Accepted")
    parser.add_argument("--interval", type=int, default=300)
    parser.add_argument("--tx-base", type=int, default=1000)
    parser.add_argument("--password")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca", help="require a client certificate from this CA")
    parser.add_argument("--configure", action="append", default=[], metavar="KEY=VALUE",
                        help="ChangeConfiguration sent after each accepted boot")
    parser.add_argument("--no-stdin", action="store_true",
                        help="no commands: run until killed (scripts/demo)")
    args = parser.parse_args()
    LOG = open(args.log, "a", encoding="utf-8")
    STATE.update(boot=args.boot, interval=args.interval, tx=args.tx_base, configure=args.configure)
    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
    async with serve(handler, "127.0.0.1", args.port, subprotocols=["ocpp1.6"], ssl=context,
                     process_request=make_process_request(args.password), max_size=4 * 1024 * 1024):
        log(t="listening")
        if args.no_stdin:
            await asyncio.Future()
        await read_commands()


if __name__ == "__main__":
    asyncio.run(main())
