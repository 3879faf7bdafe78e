#!/bin/sh
# Golden-image hygiene (root): what images/clean.list names, the one list `cargo xtask image`
# cleans its roots by. ROOT cleans a tree instead of this machine (the tests compare both paths);
# CLEAN_LIST is the list's path (Packer uploads it there).
set -eu

root=${ROOT:-}
list=${CLEAN_LIST:-/tmp/mesos-roles-clean.list}

if [ -z "$root" ]; then
    # Docker ran while provisioning: stopped before its state is dropped.
    systemctl stop docker.service docker.socket containerd.service 2>/dev/null || true
fi

while read -r action path; do
    case $action in
    '' | '#'*) continue ;;
    esac
    target=$root/$path
    case $action in
    empty)
        rm -f "$target"
        : >"$target"
        ;;
    remove)
        # The pattern expands here (`*` at the end of a name).
        # shellcheck disable=SC2086
        for file in $target; do rm -f "$file"; done
        ;;
    clear) if [ -d "$target" ]; then find "$target" -mindepth 1 -delete; fi ;;
    clear-files) if [ -d "$target" ]; then find "$target" ! -type d -delete; fi ;;
    mkdir) mkdir -p "$target" ;;
    *)
        echo "clean.sh: unknown action '$action' in $list" >&2
        exit 1
        ;;
    esac
done <"$list"
echo "clean.sh: the image is clean"
