# The checks the shell tests share, sourced by them (bash): each check prints
# "ok: WHAT" or "FAIL: WHAT ..." and counts failures in FAILURES, which the
# test turns into its exit status at the end.
FAILURES=0
fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }
# expect_eq WHAT GOT WANT
expect_eq() { if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: got $(printf %q "$2"), want $(printf %q "$3")"; fi; }
# expect_has WHAT TEXT PART
expect_has() { case "$2" in *"$3"*) pass "$1" ;; *) fail "$1: $(printf %q "$2") does not contain $(printf %q "$3")" ;; esac; }
