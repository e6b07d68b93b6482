import logging

from core import events


def test_events_mask_phones_and_drop_secrets(caplog):
    with caplog.at_level(logging.INFO, logger="dance_of_mind.events"):
        events.emit("session_created", phone="+79161234567", session_id="SECRET-ID", refresh_token="RT", ip="1.2.3.4")
    line = caplog.records[-1].getMessage()
    assert line.startswith("event=session_created")
    assert "+79161234567" not in line and "+7916*****67" in line
    assert "SECRET-ID" not in line and "refresh_token" not in line and "=RT" not in line
    assert "ip=1.2.3.4" in line
