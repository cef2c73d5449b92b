"""extended-monitor: clients that MONITOR a nick get its AWAY, SETNAME (and ACCOUNT,
CHGHOST) changes with the matching capability, even without a common channel, once."""

from chanutil import join, mask, quiet


def test_away_reaches_monitoring_client_without_common_channel(server):
    watcher = server.connect("watcher", caps=["extended-monitor", "away-notify"])
    target = server.connect("target")
    watcher.send("MONITOR + target")
    watcher.expect_next(lambda l: l.command == "730")
    target.send("AWAY :lunch")
    target.expect_next(lambda l: l.command == "306")
    watcher.expect_next(":%s AWAY :lunch" % mask("target"))
    quiet(watcher, target)


def test_no_extended_monitor_no_away(server):
    watcher = server.connect("watcher", caps=["away-notify"])
    target = server.connect("target")
    watcher.send("MONITOR + target")
    watcher.expect_next(lambda l: l.command == "730")
    target.send("AWAY :lunch")
    target.expect_next(lambda l: l.command == "306")
    watcher.assert_silent(0.5)


def test_monitoring_and_common_channel_gets_it_once(server):
    watcher = server.connect("watcher", caps=["extended-monitor", "setname"])
    target = server.connect("target")
    join(watcher, "#room")
    join(target, "#room", watcher)
    watcher.send("MONITOR + target")
    watcher.expect_next(lambda l: l.command == "730")
    target.send("SETNAME :New Name")
    watcher.expect_next(":%s SETNAME :New Name" % mask("target"))
    watcher.assert_silent(0.5)
