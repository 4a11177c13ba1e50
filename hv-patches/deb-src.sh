#!/usr/bin/env bash
# Makes `apt-get source xen` work: adds a deb-src entry for the configured
# Debian mirror's main suite (read from the deb822 .sources files or the
# one-line .list files) to /etc/apt/sources.list.d/xgrant-src.sources and
# runs apt-get update, only when no deb-src entry for that suite exists.
# Only the release suite: bookworm-security's newer xen source is listed but
# not downloadable there, so adding it would break `apt-get source`.
set -euo pipefail
OURS=/etc/apt/sources.list.d/xgrant-src.sources
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
lists=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)

# Is there a deb-src line (one-line or deb822) naming the release suite?
has_src() {
    local f
    for f in $lists; do
        case $f in
        *.sources)
            awk -v s="$suite" 'BEGIN{RS=""} /Types:[^\n]*deb-src/ &&
                match($0, /Suites:[^\n]*/) && (" " substr($0, RSTART + 7, RLENGTH - 7) " ") ~ (" " s " ") {f=1}
                END{exit !f}' "$f" && return 0 ;;
        *) grep -Eq "^[[:space:]]*deb-src[[:space:]].*[[:space:]]$suite[[:space:]]" "$f" && return 0 ;;
        esac
    done
    return 1
}

# The mirror URI of the first `deb` entry for the release suite.
mirror() {
    local f u
    for f in $lists; do
        case $f in
        *.sources)
            u=$(awk -v s="$suite" 'BEGIN{RS=""} /Types:[^\n]*deb/ {
                    if (!match($0, /Suites:[^\n]*/)) next
                    if ((" " substr($0, RSTART + 7, RLENGTH - 7) " ") !~ (" " s " ")) next
                    if (match($0, /URIs:[ \t]*[^ \t\n]+/)) {
                        v = substr($0, RSTART + 5, RLENGTH - 5); gsub(/[ \t]/, "", v)
                        print v; exit } }' "$f") ;;
        *) u=$(awk -v s="$suite" '$1 == "deb" { for (i = 2; i <= NF; i++)
                    if ($i ~ /^[a-z]+:\/\//) { if ($(i + 1) == s) { print $i; exit } break } }' "$f") ;;
        esac
        [ -n "$u" ] && { echo "$u"; return 0; }
    done
    return 1
}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if has_src; then
    # Listed but never fetched (a file added without apt-get update)?
    grep -q '^Package:' <(apt-cache showsrc xen 2>/dev/null) || $sudo apt-get update -qq
    echo "deb-src: an entry for $suite exists"
    exit 0
fi
uri=$(mirror) || { echo "deb-src: no Debian mirror for $suite in $lists" >&2; exit 1; }
echo "deb-src: adding $uri $suite main to $OURS"
printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$suite" | $sudo tee "$OURS" >/dev/null
$sudo apt-get update -qq
