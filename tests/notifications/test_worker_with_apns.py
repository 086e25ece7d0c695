"""The worker with the real APNs client against our HTTP/2 stand-in: a purchase becomes a push,
and APNs answering 410 removes the device."""

from __future__ import annotations

from loyalty.core.clock import FixedClock
from loyalty.storage.database import Database
from notifications.channels.apns import ApnsSender
from notifications.config import NotificationConfig
from notifications.worker import Worker
from tests.notifications.helpers import deliveries, devices_of, earned, event, install, member
from tests.support.data import server_ids
from tests.support.push_standins import UNREGISTERED, ApnsStandIn, apns_device_token, make_apns_key

TOPIC = "nl.trouw.demo"


async def test_a_410_from_apns_removes_the_device(db: Database, clock: FixedClock) -> None:
    await install(db, clock)
    old, new = apns_device_token("old-phone"), apns_device_token("new-phone")
    member_id = await member(db, clock, devices=(("ios", old), ("ios", new)))
    await event(db, clock, "balance.changed", member_id, earned(points=50))
    key = make_apns_key()
    async with ApnsStandIn(key, TOPIC) as apns:
        apns.respond(old, UNREGISTERED)
        sender = ApnsSender(
            key.team_id, key.key_id, key.pem, TOPIC, base_url=apns.url, ca_file=apns.ca_file
        )
        worker = Worker(db, clock, NotificationConfig(ids=server_ids()), {"ios": sender})
        try:
            await worker.run_once()
        finally:
            await worker.aclose()
            await sender.close()
        sent = {request.token: request for request in apns.requests}
    assert set(sent) == {old, new}
    assert sent[new].headers["apns-topic"] == TOPIC
    assert sent[new].payload["aps"]["alert"]["body"]
    assert [d.token for d in await devices_of(db, member_id)] == [new]
    statuses = sorted(d.status for d in await deliveries(db, "push"))
    assert statuses == ["delivered", "failed"]
