//! The generator's vocabulary: path pieces, programs, environment, sockets, sysctls.

#[rustfmt::skip]
pub(super) const WORDS: [&str; 64] = [
    "lib", "share", "include", "src", "local", "cache", "config", "data", "db", "logs", "tmp",
    "node_modules", "site-packages", "python3.11", "build", "target", "release", "deps", "docs",
    "www", "htdocs", "Resources", "Contents", "Versions", "A", "Frameworks", "Headers", "obj",
    "x86_64", "aarch64", "libexec", "pkg", "mod", "github.com", "golang.org", "x", "sys", "net",
    "crypto", "ssl", "certs", "fonts", "icons", "locale", "en_US.UTF-8", "LC_MESSAGES", "man",
    "man1", "terminfo", "zoneinfo", "Europe", "America", "kernel", "modules", "firmware",
    "Preferences", "Application Support", "Containers", "Caches", "com.apple.Safari", "Mail",
    "Downloads", "Documents", "Desktop",
];

#[rustfmt::skip]
pub(super) const NAMES: [&str; 40] = [
    "libc", "libssl", "libcrypto", "libz", "libsystem_kernel", "index", "main", "util",
    "config", "settings", "README", "LICENSE", "Makefile", "passwd", "group", "hosts", "resolv",
    "localtime", "messages", "auth", "syslog", "access", "error", "cache", "state", "lock",
    "pid", "socket", "Info", "com.apple.finder", "history", "bashrc", "profile", "known_hosts",
    "id_ed25519", "core", "module", "__init__", "setup", "Cargo",
];

#[rustfmt::skip]
pub(super) const EXTS: [&str; 24] = [
    "", "", "", ".so", ".so.3", ".dylib", ".h", ".c", ".py", ".pyc", ".log", ".conf", ".plist",
    ".json", ".db", ".txt", ".rs", ".o", ".a", ".js", ".html", ".sqlite", ".lock", ".toml",
];

#[rustfmt::skip]
pub(super) const DEVICES: [&str; 10] = [
    "null", "urandom", "random", "tty", "ttys000", "ttys001", "pts/0", "pts/3", "console",
    "zero",
];

/// Programs: (path, signing id for Apple's identity token, or "").
pub(super) const PROGRAMS: [(&str, &str); 24] = [
    ("/bin/ls", "com.apple.ls"),
    ("/bin/sh", "com.apple.sh"),
    ("/bin/cat", "com.apple.cat"),
    ("/usr/bin/grep", "com.apple.grep"),
    ("/usr/bin/find", "com.apple.find"),
    ("/usr/bin/git", "com.apple.git"),
    ("/usr/bin/ssh", "com.apple.ssh"),
    ("/usr/bin/sudo", "com.apple.sudo"),
    ("/usr/bin/awk", "com.apple.awk"),
    ("/usr/bin/sed", "com.apple.sed"),
    ("/usr/bin/xargs", "com.apple.xargs"),
    ("/usr/bin/make", "com.apple.make"),
    ("/usr/bin/cc", "com.apple.clang"),
    ("/usr/sbin/cron", "com.apple.cron"),
    ("/usr/libexec/xpcproxy", "com.apple.xpc.proxy"),
    ("/usr/local/bin/python3.11", "org.python.python"),
    ("/usr/local/bin/node", "org.nodejs.node"),
    ("/usr/local/bin/rg", ""),
    ("/usr/sbin/sshd", "com.apple.sshd"),
    ("/sbin/mount", "com.apple.mount"),
    ("/usr/bin/env", "com.apple.env"),
    ("/usr/bin/tar", "com.apple.tar"),
    ("/usr/bin/curl", "com.apple.curl"),
    ("/usr/bin/id", "com.apple.id"),
];

#[rustfmt::skip]
pub(super) const FLAGS: [&str; 20] = [
    "-l", "-la", "-r", "-v", "-n", "-c", "-e", "-f", "-o", "-O2", "-Wall", "--color=auto",
    "--quiet", "-p", "-x", "-h", "--", "-i", "-s", "--version",
];

pub(super) const ENV_FIXED: [&str; 14] = [
    "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    "TERM=xterm-256color",
    "LANG=en_US.UTF-8",
    "LC_ALL=C.UTF-8",
    "EDITOR=vi",
    "PAGER=less",
    "SHLVL=1",
    "SHELL=/bin/zsh",
    "SHELL=/bin/sh",
    "TMPDIR=/tmp/",
    "XPC_FLAGS=0x0",
    "__CF_USER_TEXT_ENCODING=0x1F5:0x0:0x0",
    "COLORTERM=truecolor",
    "GIT_PAGER=cat",
];

pub(super) const UNIX_SOCKETS: [&str; 8] = [
    "/var/run/syslog",
    "/var/run/mDNSResponder",
    "/var/run/logd",
    "/tmp/.X11-unix/X0",
    "/var/run/dbus/system_bus_socket",
    "/var/run/nscd/socket",
    "/private/var/run/.sim_diagnosticd_socket",
    "/var/db/mds/system/mdsDirectory.db_",
];

pub(super) const SYSCTLS: [(&str, &[u32]); 8] = [
    ("kern.hostname", &[1, 10]),
    ("kern.osrelease", &[1, 2]),
    ("hw.ncpu", &[6, 3]),
    ("hw.memsize", &[6, 24]),
    ("kern.proc.pid", &[1, 14, 1]),
    ("vm.swapusage", &[2, 5]),
    ("net.inet.ip.forwarding", &[4, 2, 0, 1]),
    ("security.mac.sandbox.sentinel", &[0, 3, 101]),
];

pub(super) const INETD_SERVICES: [(&str, u16); 4] =
    [("ftp", 21), ("telnet", 23), ("tftp", 69), ("finger", 79)];

pub(super) const AUTH_RIGHTS: [&str; 5] = [
    "system.privilege.admin",
    "system.preferences",
    "com.apple.ServiceManagement.blesshelper",
    "system.login.console",
    "system.install.apple-software",
];

pub(super) const PUBLIC_V4: [[u8; 4]; 6] = [
    [93, 184, 216, 34],
    [142, 250, 72, 14],
    [151, 101, 1, 69],
    [140, 82, 112, 3],
    [17, 253, 144, 10],
    [1, 1, 1, 1],
];

pub(super) const PUBLIC_V6: [[u8; 16]; 4] = [
    [
        0x26, 0x06, 0x47, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x68, 0x10, 0x85, 0xe5,
    ],
    [
        0x2a, 0x00, 0x14, 0x50, 0x40, 0x01, 0x08, 0x2a, 0, 0, 0, 0, 0, 0, 0x20, 0x0e,
    ],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 5],
];

pub(super) const PORTS: [(u16, u32); 8] = [
    (443, 50),
    (80, 12),
    (22, 10),
    (53, 8),
    (5432, 5),
    (6379, 5),
    (8080, 6),
    (993, 4),
];

/// Supplementary groups a login or setgroups call lists after the primary group.
#[rustfmt::skip]
pub(super) const MORE_GIDS: [u32; 15] = [
    12, 61, 79, 80, 81, 98, 33, 100, 204, 250, 395, 398, 399, 400, 701,
];
