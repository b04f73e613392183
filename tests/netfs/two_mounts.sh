#!/usr/bin/env bash
# Two hosts sharing one cache directory, on one machine: an sshd on 127.0.0.1
# with throwaway keys, and one directory mounted twice with sshfs. Each mount
# is its own SFTP client, so it behaves like a separate host: flock excludes
# only within a mount, attributes are cached per mount, renames go to the
# server. Everything stays on loopback.
#
#   two_mounts.sh up STATE_DIR [USER_A USER_B]
#                                  start sshd, mount STATE_DIR/export at STATE_DIR/host-a and
#                                  STATE_DIR/host-b; prints "host-a host-b" paths; needs root.
#                                  With users, host-a logs in as USER_A and host-b as USER_B
#                                  (the server acts as that user, as an NFS server does for
#                                  each client user), both mounts let every local user in
#                                  (allow_other), and the SFTP server's umask is 002 (the
#                                  group model of docs/design.md §6.8); STATE_DIR must then be
#                                  reachable by those users.
#   two_mounts.sh down STATE_DIR   unmount both, stop sshd (safe to repeat)
#   two_mounts.sh check            exit 0 if the rig can run here, else print why and exit 1
set -euo pipefail

why_not() {
    [ "$(id -u)" = 0 ] || { echo "needs root (sshd and FUSE mounts)"; return 1; }
    [ -x /usr/sbin/sshd ] || { echo "no sshd: apt-get install openssh-server"; return 1; }
    command -v sshfs >/dev/null || { echo "no sshfs: apt-get install sshfs"; return 1; }
    [ -c /dev/fuse ] || { echo "no /dev/fuse: FUSE is not available"; return 1; }
    return 0
}

up() {
    local state=$1 user_a=${2:-root} user_b=${3:-root}
    mkdir -p "$state"/export "$state"/host-a "$state"/host-b "$state"/ssh
    state=$(cd "$state" && pwd)
    local ssh=$state/ssh
    [ -f "$ssh/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$ssh/host_key"
    [ -f "$ssh/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$ssh/client_key"
    cp "$ssh/client_key.pub" "$ssh/authorized_keys"
    # The SFTP server applies its own umask on top of the client's.
    local sftp_umask=022
    if [ "$user_a$user_b" = rootroot ]; then
        chmod 600 "$ssh/authorized_keys"
    else  # sshd reads it as the user logging in
        chmod 755 "$ssh"
        chmod 644 "$ssh/authorized_keys"
        sftp_umask=${WHEELCACHE_RIG_SFTP_UMASK:-002}
    fi
    mkdir -p /run/sshd
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat > "$ssh/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $ssh/host_key
AuthorizedKeysFile $ssh/authorized_keys
PermitRootLogin prohibit-password
AllowUsers root $user_a $user_b
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $ssh/sshd.pid
Subsystem sftp internal-sftp -u $sftp_umask
MaxStartups 64
MaxSessions 64
CONF
    /usr/sbin/sshd -f "$ssh/sshd_config" -E "$ssh/sshd.log"
    local options="port=$port,IdentityFile=$ssh/client_key,StrictHostKeyChecking=no"
    options+=",UserKnownHostsFile=/dev/null,LogLevel=ERROR,BatchMode=yes"
    # sshfs keeps its own copy of directory listings for 20 s whatever other
    # hosts change; a cache shared between hosts is mounted without it.
    options+=",dir_cache=no"
    [ "$user_a$user_b" = rootroot ] || options+=",allow_other"
    local host user
    for host in host-a host-b; do
        user=$user_a
        [ "$host" = host-a ] || user=$user_b
        local tries=0
        until sshfs -o "$options" "$user@127.0.0.1:$state/export" "$state/$host"; do
            tries=$((tries + 1))
            [ "$tries" -lt 20 ] || { echo "sshfs mount of $host failed" >&2; exit 1; }
            sleep 0.2
        done
    done
    echo "$state/host-a $state/host-b"
}

down() {
    local state=$1
    local host
    for host in host-a host-b; do
        if mountpoint -q "$state/$host" 2>/dev/null; then
            fusermount3 -u "$state/$host" 2>/dev/null || umount -l "$state/$host" || true
        fi
    done
    if [ -f "$state/ssh/sshd.pid" ]; then
        kill "$(cat "$state/ssh/sshd.pid")" 2>/dev/null || true
        rm -f "$state/ssh/sshd.pid"
    fi
}

case "${1:-}" in
    up) why_not >&2 || exit 1; up "$2" "${3:-root}" "${4:-root}" ;;
    down) down "$2" ;;
    check) why_not ;;
    *) echo "usage: $0 up|down STATE_DIR | check" >&2; exit 2 ;;
esac
