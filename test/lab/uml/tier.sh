# The UML tier's names and addresses, sourced by up.sh and down.sh (test/lab/uml.ts holds
# the same values for the tests). Everything is inside 198.18.0.0/15, on a bridge of its
# own: the container lab's network (198.18.0.0/24) and Docker are not involved.
CACHE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.cache"
UML="$CACHE/uml"
KEY="$CACHE/id_ed25519"
UML_BRIDGE=cluster-uml
UML_PREFIX=198.18.8
UML_GATEWAY="$UML_PREFIX.1"
UML_RUN="$UML/run"

# Host N (1, 2, …): name umlN, address 198.18.8.(10+N), tap uml-tapN.
uml_name() { echo "uml$1"; }
uml_ip() { echo "$UML_PREFIX.$((10 + $1))"; }
uml_tap() { echo "uml-tap$1"; }

# The host's FORWARD rules for the bridge: frames between UML hosts pass (the machine's
# FORWARD policy may be DROP, as Docker sets it), and nothing from a UML host is routed
# off the bridge, so no lab packet leaves 198.18.8.0/24.
UML_FORWARD_RULES=("-i $UML_BRIDGE -o $UML_BRIDGE -j ACCEPT" "-i $UML_BRIDGE ! -o $UML_BRIDGE -j DROP")

uml_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
