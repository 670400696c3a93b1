# Debian 13 ("trixie") chroots for the test lanes that need a libtorch Debian 12 does not have
# (libtorch 2.6 CPU, the CUDA libtorch 2.6). Sourced by scripts/lanes/*.sh, not run.
#
#   chroot_ensure NAME "PACKAGES" [PREPARE_FUNCTION]
#       makes $MHA2MLA_CHROOTS/NAME (default /var/cache/mha2mla/chroots) or reuses it when its
#       stamp (suite, package list, debian13_recipe) still matches; PREPARE_FUNCTION runs after
#       debootstrap and before the packages are installed, with the new root as $1.
#   chroot_enter NAME   mounts /proc, the host's .NET SDK and NuGet package folder into it
#   chroot_run NAME CMD runs CMD (a bash string) inside, as root, in a clean environment
#   chroot_leave NAME   undoes every mount under the root (also mounts a killed run left behind)
#
# A chroot is made beside its final place (NAME.new) and renamed when complete, so a run killed
# while making it leaves nothing that a later run would take for a finished one. Mounts are
# undone by chroot_leave from an EXIT trap; after a kill -9, the next chroot_enter or
# chroot_ensure undoes the stale ones first. Nothing is ever deleted while a mount is inside.
# needs: root, debootstrap (installed when missing), the Debian package source reachable.

chroots_root=${MHA2MLA_CHROOTS:-/var/cache/mha2mla/chroots}
debian13_suite=trixie
debian13_mirror=${MHA2MLA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Bump when chroot_ensure makes a chroot differently, so that every machine makes its chroots anew.
debian13_recipe=1

chroot_dir() { echo "$chroots_root/$1"; }

# Every mount point at or under DIR, deepest first.
mounts_under() {
  awk -v dir="$1" '$2 == dir || index($2, dir "/") == 1 { print $2 }' /proc/mounts | sort -r
}

unmount_under() {
  local point
  for point in $(mounts_under "$1"); do
    umount "$point" 2>/dev/null || umount -l "$point"
  done
  if [[ -n $(mounts_under "$1") ]]; then
    echo "lanes: could not unmount everything under $1; not touching it" >&2
    return 1
  fi
}

# Removes a chroot directory, refusing while anything is mounted inside it.
remove_tree() {
  [[ -e $1 ]] || return 0
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}

chroot_ensure() {
  local name=$1 packages=$2 prepare=${3:-} root new stamp_now
  root=$(chroot_dir "$name")
  new="$root.new"
  stamp_now="$debian13_suite | $(tr ' ' '\n' <<<"$packages" | sort -u | xargs) | recipe $debian13_recipe"
  mkdir -p "$chroots_root"
  if [[ -f $root/.mha2mla-stamp && $(cat "$root/.mha2mla-stamp") == "$stamp_now" ]]; then
    unmount_under "$root"
    return 0
  fi
  command -v debootstrap >/dev/null || {
    echo "lanes: installing debootstrap" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  echo "lanes: making the Debian 13 chroot '$name' (debootstrap + $packages)" >&2
  remove_tree "$new"
  remove_tree "$root"
  debootstrap --variant=minbase "$debian13_suite" "$new" "$debian13_mirror" >"$chroots_root/$name.debootstrap.log" 2>&1 || {
    tail -20 "$chroots_root/$name.debootstrap.log" >&2
    echo "lanes: debootstrap of $debian13_suite failed (log: $chroots_root/$name.debootstrap.log)" >&2
    return 1
  }
  echo "deb $debian13_mirror $debian13_suite main contrib non-free non-free-firmware" >"$new/etc/apt/sources.list"
  cp /etc/resolv.conf "$new/etc/resolv.conf"
  # The host's apt settings (e.g. a snapshot mirror's Check-Valid-Until) and CA certificates
  # (a TLS-inspecting proxy) apply inside too.
  cp /etc/apt/apt.conf.d/* "$new/etc/apt/apt.conf.d/" 2>/dev/null || true
  mkdir -p "$new/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$new/usr/local/share/ca-certificates/" 2>/dev/null || true
  [[ -z $prepare ]] || "$prepare" "$new"
  mount -t proc proc "$new/proc"
  local status=0
  { chroot "$new" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive chroot "$new" apt-get install -y -qq --no-install-recommends ca-certificates $packages &&
    chroot "$new" update-ca-certificates; } >"$chroots_root/$name.install.log" 2>&1 || status=$?
  unmount_under "$new"
  if ((status)); then
    tail -20 "$chroots_root/$name.install.log" >&2
    echo "lanes: installing $packages into the chroot failed (log: $chroots_root/$name.install.log)" >&2
    return 1
  fi
  chroot "$new" apt-get clean
  echo "$stamp_now" >"$new/.mha2mla-stamp"
  mv "$new" "$root"
}

chroot_enter() {
  local root dotnet_root nuget
  root=$(chroot_dir "$1")
  unmount_under "$root"
  dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  nuget=${NUGET_PACKAGES:-$HOME/.nuget/packages}
  mkdir -p "$root$dotnet_root" "$root/root/.nuget/packages" "$root/root/.nuget/NuGet" "$nuget"
  mount -t proc proc "$root/proc"
  mount --bind "$dotnet_root" "$root$dotnet_root"
  mount -o remount,bind,ro "$root$dotnet_root"
  mount --bind "$nuget" "$root/root/.nuget/packages"
  ln -sfn "$dotnet_root/dotnet" "$root/usr/local/bin/dotnet"
  [[ ! -f $HOME/.nuget/NuGet/NuGet.Config ]] || cp "$HOME/.nuget/NuGet/NuGet.Config" "$root/root/.nuget/NuGet/"
}

chroot_run() {
  local root
  root=$(chroot_dir "$1")
  shift
  local -a keep=()
  local var
  for var in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OMP_NUM_THREADS CI MHA2MLA_TEST_FILTER; do
    [[ -z ${!var:-} ]] || keep+=("$var=${!var}")
  done
  # No MSBuild node or compiler server may outlive the command: it would keep the chroot's mounts
  # busy and, through an inherited descriptor, the lane's lock (so fd 9 is closed for it too).
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1 \
    MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0 UseSharedCompilation=false "${keep[@]}" \
    /bin/bash -c "$*" 9>&-
}

chroot_leave() { unmount_under "$(chroot_dir "$1")"; }

# Copies this checkout into DIR inside the chroot as git sees it (ignored files left out, files
# deleted here deleted there) plus scripts/js's npm packages; build outputs there (ignored) stay,
# so a second run builds incrementally.
chroot_sync_checkout() {
  local root target
  root=$(chroot_dir "$1")
  target="$root$3"
  mkdir -p "$target"
  command -v rsync >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync >/dev/null
  }
  rsync -a --delete --exclude=/.git --filter='+ /scripts/js/node_modules/***' --filter=':- .gitignore' "$2/" "$target/"
}
