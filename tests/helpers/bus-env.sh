# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# A private system bus with the project's real bus policy, and a real polkitd
# on it with the project's real .policy, for the bus tests (TESTING.md).
#
#   BUS_POLICY=dbus/org.memguard.conf POLKIT_POLICY=build/polkit/org.memguard.policy
#   . bus-env.sh
#   busenv_setup              # temp dir, bus config; exports DBUS_SYSTEM_BUS_ADDRESS
#   busenv_add_policy XML     # extra <policy> elements for this test (before the bus starts)
#   busenv_start_bus          # dbus-daemon, polled until it answers
#   busenv_install_polkit     # the .policy into /usr/share/polkit-1/actions
#   busenv_add_polkit_rule JS # a rules file in /etc/polkit-1/rules.d
#   busenv_remove_last_polkit_rule
#   busenv_start_polkit       # polkitd, polled until it owns its name
#   busenv_teardown           # on every exit path (trap): stop what we started,
#                             # restore what we replaced, remove what we added
#
# Only processes started here are stopped, by their PID.

: "${BUS_POLICY:?BUS_POLICY must name dbus/org.memguard.conf}"
: "${POLKIT_POLICY:?POLKIT_POLICY must name the built org.memguard.policy}"

POLKITD=${POLKITD:-/usr/lib/polkit-1/polkitd}
POLKIT_ACTIONS_DIR=/usr/share/polkit-1/actions
POLKIT_RULES_DIR=/etc/polkit-1/rules.d
BUSENV_DIR=
BUS_PID=
POLKIT_PID=
BUSENV_RULES=()
BUSENV_POLICY_INSTALLED=

busenv_setup() {
	BUSENV_DIR=$(mktemp -d /tmp/memguard-bus.XXXXXX) || return 1
	chmod 755 "$BUSENV_DIR"
	BUS_SOCKET=$BUSENV_DIR/system_bus_socket
	export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$BUS_SOCKET
	# The default policy of Debian's system.conf, verbatim, without the parts
	# a private bus must not have (fork, pid file, setuid helper, service
	# directories: nothing is activated), then the project's policy and the
	# installed ones (polkitd's among them).
	cat >"$BUSENV_DIR/system.conf" <<-EOF
	<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
	 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
	<busconfig>
	  <type>system</type>
	  <auth>EXTERNAL</auth>
	  <listen>$DBUS_SYSTEM_BUS_ADDRESS</listen>
	  <policy context="default">
	    <allow user="*"/>
	    <deny own="*"/>
	    <deny send_type="method_call"/>
	    <allow send_type="signal"/>
	    <allow send_requested_reply="true" send_type="method_return"/>
	    <allow send_requested_reply="true" send_type="error"/>
	    <allow receive_type="method_call"/>
	    <allow receive_type="method_return"/>
	    <allow receive_type="error"/>
	    <allow receive_type="signal"/>
	    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
	    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
	    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
	    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
	          send_member="UpdateActivationEnvironment"/>
	  </policy>
	  <include>$(realpath "$BUS_POLICY")</include>
	  <includedir>/usr/share/dbus-1/system.d</includedir>
	  <!-- a test's own additions (busenv_add_policy), read when the bus starts -->
	  <include ignore_missing="yes">$BUSENV_DIR/extra-policy.conf</include>
	</busconfig>
	EOF
}

# busenv_add_policy XML: policy elements for this test's bus (before busenv_start_bus).
busenv_add_policy() {
	printf '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n<busconfig>\n%s\n</busconfig>\n' \
		"$1" >"$BUSENV_DIR/extra-policy.conf"
}

# busenv_has_name NAME: is NAME owned on the private bus?
busenv_has_name() {
	dbus-send --system --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q true
}

# busenv_wait_name NAME SECONDS [gone]: poll (every 50 ms) until NAME is owned (or gone).
busenv_wait_name() {
	local name=$1 secs=$2 want=${3:-owned} i
	for ((i = 0; i < secs * 20; i++)); do
		if busenv_has_name "$name"; then
			[ "$want" = owned ] && return 0
		else
			[ "$want" = gone ] && return 0
		fi
		sleep 0.05
	done
	return 1
}

busenv_start_bus() {
	dbus-daemon --config-file="$BUSENV_DIR/system.conf" --nofork --nopidfile \
		--address="$DBUS_SYSTEM_BUS_ADDRESS" >>"$BUSENV_DIR/dbus.log" 2>&1 &
	BUS_PID=$!
	busenv_wait_name org.freedesktop.DBus 10 || { cat "$BUSENV_DIR/dbus.log" >&2; return 1; }
}

# busenv_kill_bus: the bus daemon dies without cleaning up (SIGKILL), as in a crash.
busenv_kill_bus() {
	[ -n "$BUS_PID" ] || return 0
	kill -KILL "$BUS_PID" 2>/dev/null
	wait "$BUS_PID" 2>/dev/null
	BUS_PID=
}

busenv_install_polkit() {
	local target=$POLKIT_ACTIONS_DIR/org.memguard.policy
	if [ -e "$target" ]; then
		cp -p "$target" "$BUSENV_DIR/org.memguard.policy.saved" || return 1
	fi
	install -m 644 "$POLKIT_POLICY" "$target" || return 1
	BUSENV_POLICY_INSTALLED=1
}

# busenv_add_polkit_rule JS: a rules file for this test only.
busenv_add_polkit_rule() {
	local f
	f=$POLKIT_RULES_DIR/10-memguard-test-$$-${#BUSENV_RULES[@]}.rules
	printf '%s\n' "$1" >"$f" || return 1
	chmod 644 "$f"
	BUSENV_RULES+=("$f")
}

busenv_remove_last_polkit_rule() {
	local n=${#BUSENV_RULES[@]}
	[ "$n" -gt 0 ] || return 0
	rm -f "${BUSENV_RULES[n - 1]}"
	unset "BUSENV_RULES[$((n - 1))]"
}

busenv_start_polkit() {
	"$POLKITD" --no-debug >>"$BUSENV_DIR/polkitd.log" 2>&1 &
	POLKIT_PID=$!
	busenv_wait_name org.freedesktop.PolicyKit1 10 || { cat "$BUSENV_DIR/polkitd.log" >&2; return 1; }
}

busenv_stop_polkit() {
	[ -n "$POLKIT_PID" ] || return 0
	kill -TERM "$POLKIT_PID" 2>/dev/null
	wait "$POLKIT_PID" 2>/dev/null
	POLKIT_PID=
}

busenv_teardown() {
	busenv_stop_polkit
	if [ -n "$BUS_PID" ]; then
		kill -TERM "$BUS_PID" 2>/dev/null
		wait "$BUS_PID" 2>/dev/null
		BUS_PID=
	fi
	local f
	for f in "${BUSENV_RULES[@]}"; do
		rm -f "$f"
	done
	BUSENV_RULES=()
	if [ -n "$BUSENV_POLICY_INSTALLED" ]; then
		if [ -e "$BUSENV_DIR/org.memguard.policy.saved" ]; then
			cp -p "$BUSENV_DIR/org.memguard.policy.saved" "$POLKIT_ACTIONS_DIR/org.memguard.policy"
		else
			rm -f "$POLKIT_ACTIONS_DIR/org.memguard.policy"
		fi
		BUSENV_POLICY_INSTALLED=
	fi
	[ -n "$BUSENV_DIR" ] && rm -rf "$BUSENV_DIR"
	BUSENV_DIR=
}
