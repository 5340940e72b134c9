//! The package's demo trail: a small, deterministic trail with macOS- and FreeBSD-like
//! records (audit startup, logins, execve with exec args and env, opens, socket connects over
//! IPv4 and IPv6, sysctl, kill, IPC, ...) that together hold every token id the decoder
//! knows, every header variant, the IPv6 forms and the 64-bit forms.
//!
//! `python/bsmtrail/data/demo.bsm` is this trail; the `demo_file_is_current` test keeps it
//! in step (run it with `BSMTRAIL_WRITE_DEMO=1` to rewrite the file).

use super::encode::{self, cstr, EncodeError};
use super::record::{HeaderKind, RecordBuilder};
use crate::tokens::{ids, Addr, Identity, Subject, Token};

/// 2023-11-14 22:13:20 UTC.
const T0: u32 = 1_700_000_000;

const ANY4: Addr = Addr::V4([0, 0, 0, 0]);
const HOST4: [u8; 4] = [192, 168, 1, 10];
const CLIENT4: [u8; 4] = [192, 168, 1, 77];
const WEB4: [u8; 4] = [203, 0, 113, 5];
/// 2001:db8::1, the writing host.
const HOST6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
];
/// 2001:db8::10, a remote client.
const CLIENT6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];
/// 2001:db8::5, a web server.
const WEB6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05,
];

// Events (OpenBSM audit_event).
const AUE_EXIT: u16 = 1;
const AUE_CHMOD: u16 = 10;
const AUE_KILL: u16 = 15;
const AUE_EXECVE: u16 = 23;
const AUE_SETGROUPS: u16 = 26;
const AUE_CONNECT: u16 = 32;
const AUE_ACCEPT: u16 = 33;
const AUE_BIND: u16 = 34;
const AUE_OPEN_R: u16 = 72;
const AUE_OPEN_RWC: u16 = 81;
const AUE_MSGGET: u16 = 88;
const AUE_SHMGET: u16 = 95;
const AUE_SOCKET: u16 = 183;
const AUE_MMAP: u16 = 210;
const AUE_AUDIT: u16 = 211;
const AUE_SETAUDIT_ADDR: u16 = 266;
const AUE_PTRACE: u16 = 43002;
const AUE_SYSCTL: u16 = 43021;
const AUE_POSIX_SPAWN: u16 = 43190;
const AUE_INETD_CONNECT: u16 = 6151;
const AUE_OPENSSH: u16 = 32800;
const AUE_AUDIT_STARTUP: u16 = 45000;
const AUE_AUDIT_SHUTDOWN: u16 = 45001;
const AUE_LW_LOGIN: u16 = 45021;
const AUE_AUTH_USER: u16 = 45023;
const AUE_SSAUTHORIZE: u16 = 45025;

const PAD_FAILURE: u16 = 0x8000;
const PAD_NOTATTR: u16 = 0x4000;

/// BSM errno values (§5.1).
const EPERM: u8 = 1;
const EACCES: u8 = 13;

/// A deterministic stand-in for a 20-byte code-directory hash.
fn cdhash(seed: u8) -> [u8; 20] {
    let mut h = [0u8; 20];
    let mut x = u32::from(seed)
        .wrapping_mul(2_654_435_761)
        .wrapping_add(0x9e37_79b9);
    for b in &mut h {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x.to_be_bytes()[0];
    }
    h
}

fn subject(auid: u32, euid: u32, egid: u32, pid: u32, sid: u32, port: u64, addr: Addr) -> Subject {
    Subject {
        auid,
        euid,
        egid,
        ruid: auid,
        rgid: if auid == u32::MAX { 0 } else { 20 },
        pid,
        sid,
        port,
        addr,
    }
}

/// alice (501, staff) in her GUI session.
fn alice(pid: u32) -> Subject {
    subject(501, 501, 20, pid, 100_004, 50_331_650, ANY4)
}

/// alice running as root (sudo).
fn alice_root(pid: u32) -> Subject {
    subject(501, 0, 0, pid, 100_004, 50_331_650, ANY4)
}

/// A daemon: no audit user yet.
fn daemon(pid: u32) -> Subject {
    subject(u32::MAX, 0, 0, pid, 100_000, 0, ANY4)
}

/// carol (1000) logged in over ssh from 2001:db8::10.
fn carol6(pid: u32) -> Subject {
    Subject {
        ruid: 1000,
        rgid: 1000,
        ..subject(
            1000,
            1000,
            1000,
            pid,
            24_722,
            0x0016_c51e,
            Addr::V6(CLIENT6),
        )
    }
}

fn ok(value: u32) -> Token<'static> {
    Token::Return {
        status: 0,
        value: value.into(),
    }
}

fn fail(status: u8) -> Token<'static> {
    Token::Return {
        status,
        value: u32::MAX.into(),
    }
}

struct Demo {
    out: Vec<u8>,
    clock: u32,
}

impl Demo {
    /// A record `step` seconds after the previous one.
    fn record(
        &mut self,
        kind: HeaderKind,
        event: u16,
        modifier: u16,
        step: u32,
        msec: u32,
        body: impl FnOnce(&mut RecordBuilder),
    ) -> Result<(), EncodeError> {
        self.clock += step;
        let mut r = RecordBuilder::new(kind, event, modifier, self.clock.into(), msec.into());
        body(&mut r);
        r.write_into(&mut self.out).map(|_| ())
    }
}

fn platform_identity<'a>(signing_id: &'a [u8], hash: &'a [u8]) -> Token<'a> {
    Token::Identity(Identity {
        signer_type: 1,
        signing_id,
        signing_id_truncated: 0,
        team_id: b"\0",
        team_id_truncated: 0,
        cdhash: hash,
    })
}

fn build() -> Result<Vec<u8>, EncodeError> {
    use HeaderKind::{Header32, Header32Ex, Header64, Header64Ex};
    let mut d = Demo {
        out: Vec::new(),
        clock: T0,
    };
    let trail_name = cstr("/var/audit/20231114221320.not_terminated");
    encode::file(&mut d.out, T0, 0, &trail_name)?;

    let h_ls = cdhash(1);
    let h_login = cdhash(2);
    let h_curl = cdhash(3);
    let h_sshd = cdhash(4);

    // 1. auditd starts.
    d.record(Header32, AUE_AUDIT_STARTUP, 0, 0, 12, |r| {
        r.token(&Token::Text(b"auditd::Audit startup\0"), ids::TEXT)
            .token(&ok(0), ids::RETURN32);
    })?;

    // 2. alice logs in at the login window (header_ex with the host's IPv4 address).
    d.record(Header32Ex(Addr::V4(HOST4)), AUE_LW_LOGIN, 0, 41, 388, |r| {
        r.token(&Token::Subject(alice(97)), ids::SUBJECT32_EX)
            .token(&Token::Text(b"successful login alice\0"), ids::TEXT)
            .token(&ok(0), ids::RETURN32)
            .token(
                &platform_identity(b"com.apple.loginwindow\0", &h_login),
                ids::IDENTITY,
            );
    })?;

    // 3. Smart-card authentication: the certificate hash of the card's key.
    d.record(Header32, AUE_AUTH_USER, 0, 2, 57, |r| {
        r.token(&Token::Subject(alice(97)), ids::SUBJECT32)
            .token(
                &Token::Text(b"Authentication for user <alice>\0"),
                ids::TEXT,
            )
            .with(|b| {
                encode::cert_hash(
                    b,
                    ["5e0c1a7f9a3d4b2c8e6f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f"],
                )
            })
            .token(&ok(0), ids::RETURN32);
    })?;

    // 4. The authorization engine grants a right: session and result UUIDs.
    let session = [
        0x5a, 0x62, 0xea, 0x53, 0xd4, 0x1c, 0x11, 0xe6, 0xc8, 0xa3, 0x25, 0x00, 0x9d, 0x4b, 0xb4,
        0x9c,
    ];
    let result = [
        0x77, 0xb3, 0x36, 0x43, 0xd4, 0x1d, 0x11, 0xe6, 0xc8, 0xa3, 0x25, 0x00, 0x9d, 0x4b, 0xb4,
        0x9c,
    ];
    d.record(Header32, AUE_SSAUTHORIZE, 0, 3, 500, |r| {
        r.token(&Token::Subject(alice(311)), ids::SUBJECT32)
            .token(&Token::Text(b"system.privilege.admin\0"), ids::TEXT)
            .token(
                &Token::ArgUuid {
                    num: 1,
                    uuid: session,
                    desc: b"session\0",
                },
                ids::ARG_UUID,
            )
            .token(
                &Token::RetUuid {
                    num: 0,
                    uuid: result,
                    desc: b"authorization\0",
                },
                ids::RETURN_UUID,
            )
            .token(&ok(0), ids::RETURN32);
    })?;

    // 5. alice runs ls in Terminal.
    d.record(Header32, AUE_EXECVE, 0, 5, 931, |r| {
        r.with(|b| encode::exec_args(b, ["ls", "-la", "/tmp"]))
            .with(|b| {
                encode::exec_env(
                    b,
                    [
                        "PATH=/usr/bin:/bin:/usr/sbin:/sbin",
                        "HOME=/Users/alice",
                        "TERM=xterm-256color",
                        "LANG=en_US.UTF-8",
                    ],
                )
            })
            .token(&Token::Path(b"/bin/ls\0"), ids::PATH)
            .token(
                &Token::Attr {
                    mode: 0o100755,
                    uid: 0,
                    gid: 0,
                    fsid: 16_777_220,
                    nodeid: 1_152_921_500_311_879_701,
                    device: 0,
                },
                ids::ATTR32,
            )
            .token(&Token::Subject(alice(4242)), ids::SUBJECT32)
            .token(&ok(0), ids::RETURN32)
            .token(&platform_identity(b"com.apple.ls\0", &h_ls), ids::IDENTITY);
    })?;

    // 6. A FreeBSD amd64 host logs carol's ssh login, from IPv6, with her Kerberos principal.
    d.record(Header32Ex(Addr::V6(HOST6)), AUE_OPENSSH, 0, 7, 104, |r| {
        r.token(&Token::Subject(carol6(50_009)), ids::SUBJECT32_EX)
            .token(&Token::Text(b"successful login carol\0"), ids::TEXT)
            .with(|b| encode::krb5_principal(b, ["carol@EXAMPLE.COM"]))
            .token(&ok(0), ids::RETURN32);
    })?;

    // 7. carol builds something: a long execve, 64-bit header, 64-bit attributes.
    let make_args = [
        "cc",
        "-O2",
        "-pipe",
        "-Wall",
        "-Wextra",
        "-fstack-protector-strong",
        "-c",
        "-o",
        "bsm_io.o",
        "-I.",
        "-I../sys",
        "-DHAVE_CONFIG_H",
        "bsm_io.c",
    ];
    d.record(Header64Ex(Addr::V6(HOST6)), AUE_EXECVE, 0, 12, 250, |r| {
        r.with(|b| encode::exec_args(b, make_args))
            .with(|b| {
                encode::exec_env(
                    b,
                    [
                        "PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/bin",
                        "HOME=/home/carol",
                        "SHELL=/bin/sh",
                        "SSH_CONNECTION=2001:db8::10 50462 2001:db8::1 22",
                        "",
                    ],
                )
            })
            .token(&Token::Path(b"/usr/bin/cc\0"), ids::PATH)
            .token(
                &Token::Attr {
                    mode: 0o100555,
                    uid: 0,
                    gid: 0,
                    fsid: 90,
                    nodeid: 24_222,
                    device: 0x0000_0001_0000_2a00,
                },
                ids::ATTR64,
            )
            .token(&Token::Subject(carol6(50_117)), ids::SUBJECT64_EX)
            .token(
                &Token::Return {
                    status: 0,
                    value: 0,
                },
                ids::RETURN64,
            );
    })?;

    // 8. launchd spawns a daemon (64-bit header, subject and argument).
    d.record(Header64, AUE_POSIX_SPAWN, 0, 1, 3, |r| {
        r.token(
            &Token::Arg {
                num: 1,
                value: 0x0000_7ff7_bfef_f6a0,
                desc: b"attrp\0",
            },
            ids::ARG64,
        )
        .with(|b| encode::exec_args(b, ["/usr/libexec/sshd-keygen-wrapper"]))
        .token(
            &Token::Path(b"/usr/libexec/sshd-keygen-wrapper\0"),
            ids::PATH,
        )
        .token(
            &Token::Attr {
                mode: 0o100755,
                uid: 0,
                gid: 0,
                fsid: 16_777_220,
                nodeid: 1_152_921_500_312_233_113,
                device: 0,
            },
            ids::ATTR64,
        )
        .token(
            &Token::Subject(subject(u32::MAX, 0, 0, 1, 100_000, 1 << 40, ANY4)),
            ids::SUBJECT64,
        )
        .token(
            &Token::Return {
                status: 0,
                value: 61_288,
            },
            ids::RETURN64,
        )
        .token(
            &platform_identity(b"com.apple.sshd\0", &h_sshd),
            ids::IDENTITY,
        );
    })?;

    // 9. alice opens /etc/passwd for reading.
    d.record(Header32, AUE_OPEN_R, 0, 2, 610, |r| {
        r.token(
            &Token::Arg {
                num: 2,
                value: 0,
                desc: b"flags\0",
            },
            ids::ARG32,
        )
        .token(&Token::Path(b"/private/etc/passwd\0"), ids::PATH)
        .token(
            &Token::Attr {
                mode: 0o100644,
                uid: 0,
                gid: 0,
                fsid: 16_777_220,
                nodeid: 1_152_921_500_311_997_457,
                device: 0,
            },
            ids::ATTR32,
        )
        .token(&Token::Subject(alice(4250)), ids::SUBJECT32)
        .token(&ok(3), ids::RETURN32);
    })?;

    // 10. ... and creates a file.
    d.record(Header32, AUE_OPEN_RWC, 0, 1, 15, |r| {
        r.token(
            &Token::Arg {
                num: 2,
                value: 0x602,
                desc: b"flags\0",
            },
            ids::ARG32,
        )
        .token(
            &Token::Arg {
                num: 3,
                value: 0o644,
                desc: b"mode\0",
            },
            ids::ARG32,
        )
        .token(&Token::Path(b"/Users/alice/notes.txt\0"), ids::PATH)
        .token(
            &Token::Attr {
                mode: 0o100644,
                uid: 501,
                gid: 20,
                fsid: 16_777_222,
                nodeid: 8_615_221,
                device: 0,
            },
            ids::ATTR32,
        )
        .token(&Token::Subject(alice(4251)), ids::SUBJECT32)
        .token(&ok(4), ids::RETURN32);
    })?;

    // 11. A failed open of the shadow file.
    d.record(Header32, AUE_OPEN_R, PAD_FAILURE, 1, 16, |r| {
        r.token(
            &Token::Arg {
                num: 2,
                value: 0,
                desc: b"flags\0",
            },
            ids::ARG32,
        )
        .token(&Token::Path(b"/private/etc/master.passwd\0"), ids::PATH)
        .token(&Token::Subject(alice(4252)), ids::SUBJECT32)
        .token(&fail(EACCES), ids::RETURN32);
    })?;

    // 12. curl creates a socket ...
    d.record(Header32, AUE_SOCKET, 0, 4, 700, |r| {
        for (num, value, desc) in [
            (1u8, 2u64, &b"domain\0"[..]),
            (2, 1, b"type\0"),
            (3, 0, b"protocol\0"),
        ] {
            r.token(&Token::Arg { num, value, desc }, ids::ARG32);
        }
        r.token(&Token::Subject(alice(4300)), ids::SUBJECT32)
            .token(&ok(5), ids::RETURN32);
    })?;

    // 13. ... connects over IPv4 ...
    d.record(Header32, AUE_CONNECT, 0, 0, 702, |r| {
        r.token(
            &Token::Arg {
                num: 1,
                value: 5,
                desc: b"fd\0",
            },
            ids::ARG32,
        )
        .token(
            &Token::SockInet {
                family: 2,
                port: 443,
                addr: WEB4,
            },
            ids::SOCKINET32,
        )
        .token(&Token::Subject(alice(4300)), ids::SUBJECT32)
        .token(&ok(0), ids::RETURN32)
        .token(
            &platform_identity(b"com.apple.curl\0", &h_curl),
            ids::IDENTITY,
        );
    })?;

    // 14. ... and over IPv6 (AF_INET6 is 30 on macOS).
    d.record(Header32, AUE_CONNECT, 0, 0, 955, |r| {
        r.token(
            &Token::Arg {
                num: 1,
                value: 6,
                desc: b"fd\0",
            },
            ids::ARG32,
        )
        .token(
            &Token::SockInet6 {
                family: 30,
                port: 443,
                addr: WEB6,
            },
            ids::SOCKINET128,
        )
        .token(&Token::Subject(alice(4300)), ids::SUBJECT32)
        .token(&ok(0), ids::RETURN32)
        .token(
            &platform_identity(b"com.apple.curl\0", &h_curl),
            ids::IDENTITY,
        );
    })?;

    // 15. mDNSResponder binds its Unix socket.
    d.record(Header32, AUE_BIND, 0, 1, 80, |r| {
        r.token(
            &Token::Arg {
                num: 1,
                value: 3,
                desc: b"fd\0",
            },
            ids::ARG32,
        )
        .token(
            &Token::SockUnix {
                family: 1,
                path: b"/var/run/mDNSResponder",
            },
            ids::SOCKUNIX,
        )
        .token(&Token::Subject(daemon(188)), ids::SUBJECT32)
        .token(&ok(0), ids::RETURN32);
    })?;

    // 16. A Solaris-style accept, with the old socket token ...
    d.record(Header32Ex(Addr::V4(HOST4)), AUE_ACCEPT, 0, 3, 222, |r| {
        r.token(
            &Token::Socket {
                sock_type: 2,
                lport: 22,
                laddr: HOST4,
                rport: 51_234,
                raddr: CLIENT4,
            },
            ids::SOCKET,
        )
        .token(&Token::Subject(daemon(611)), ids::SUBJECT32)
        .token(&ok(7), ids::RETURN32);
    })?;

    // 17. ... and socket_ex tokens, IPv4 and IPv6 (BSM domain 26 = INET6, type 2 = STREAM).
    d.record(Header32Ex(Addr::V6(HOST6)), AUE_ACCEPT, 0, 1, 223, |r| {
        r.token(
            &Token::SocketEx {
                domain: 2,
                sock_type: 2,
                lport: 22,
                laddr: Addr::V4(HOST4),
                rport: 51_236,
                raddr: Addr::V4(CLIENT4),
            },
            ids::SOCKET_EX,
        )
        .token(
            &Token::SocketEx {
                domain: 26,
                sock_type: 2,
                lport: 22,
                laddr: Addr::V6(HOST6),
                rport: 50_462,
                raddr: Addr::V6(CLIENT6),
            },
            ids::SOCKET_EX,
        )
        .token(&Token::Subject(daemon(611)), ids::SUBJECT32)
        .token(&ok(8), ids::RETURN32);
    })?;

    // 18. sysctl kern.proc.pid.4242, with the MIB as arbitrary data.
    d.record(Header32, AUE_SYSCTL, 0, 2, 512, |r| {
        for (num, value) in [(1u8, 1u64), (2, 14), (3, 1), (4, 4242)] {
            let desc = [b'n', b'a', b'm', b'e', b'[', b'0' + num - 1, b']', 0];
            r.token(
                &Token::Arg {
                    num,
                    value,
                    desc: &desc,
                },
                ids::ARG32,
            );
        }
        r.with(|b| encode::data_values(b, 2, 2, &[1, 14, 1, 4242]))
            .token(&Token::Text(b"kern.proc.pid.4242\0"), ids::TEXT)
            .token(&Token::Subject(alice(4310)), ids::SUBJECT32)
            .token(&ok(0), ids::RETURN32);
    })?;

    // 19. kill(4242, SIGTERM): the target as process32.
    d.record(Header32, AUE_KILL, 0, 1, 4, |r| {
        r.token(
            &Token::Arg {
                num: 2,
                value: 15,
                desc: b"signal\0",
            },
            ids::ARG32,
        )
        .token(&Token::Process(alice(4242)), ids::PROCESS32)
        .token(&Token::Subject(alice(4311)), ids::SUBJECT32)
        .token(&ok(0), ids::RETURN32);
    })?;

    // 20. A denied kill of a root process: the target as process64.
    d.record(Header64, AUE_KILL, PAD_FAILURE, 1, 5, |r| {
        r.token(
            &Token::Arg {
                num: 2,
                value: 9,
                desc: b"signal\0",
            },
            ids::ARG32,
        )
        .token(
            &Token::Process(subject(u32::MAX, 0, 0, 1, 100_000, 1 << 40, ANY4)),
            ids::PROCESS64,
        )
        .token(&Token::Subject(alice(4312)), ids::SUBJECT64)
        .token(&fail(EPERM), ids::RETURN32);
    })?;

    // 21. ptrace of a remote user's process, IPv4 (process32_ex) ...
    d.record(Header32Ex(Addr::V4(HOST4)), AUE_PTRACE, 0, 6, 77, |r| {
        let target = Subject {
            addr: Addr::V4(CLIENT4),
            ..carol6(50_200)
        };
        r.token(
            &Token::Arg {
                num: 1,
                value: 0x0d,
                desc: b"request\0",
            },
            ids::ARG32,
        )
        .token(&Token::Process(target), ids::PROCESS32_EX)
        .token(&Token::Subject(alice_root(4400)), ids::SUBJECT32)
        .token(&ok(0), ids::RETURN32);
    })?;

    // 22. ... and IPv6 (process64_ex), from carol's session.
    d.record(Header64Ex(Addr::V4(HOST4)), AUE_PTRACE, 0, 1, 78, |r| {
        r.token(
            &Token::Arg {
                num: 1,
                value: 0x0d,
                desc: b"request\0",
            },
            ids::ARG32,
        )
        .token(&Token::Process(carol6(50_201)), ids::PROCESS64_EX)
        .token(&Token::Subject(carol6(50_117)), ids::SUBJECT32_EX)
        .token(&ok(0), ids::RETURN32);
    })?;

    // 23. setgroups.
    d.record(Header32, AUE_SETGROUPS, 0, 3, 900, |r| {
        let gids = [
            20, 12, 61, 79, 80, 81, 98, 33, 100, 204, 250, 395, 398, 399, 400, 701,
        ];
        r.token(
            &Token::Arg {
                num: 1,
                value: gids.len() as u64,
                desc: b"setgroups\0",
            },
            ids::ARG32,
        )
        .with(|b| encode::groups(b, &gids))
        .token(&Token::Subject(alice_root(4401)), ids::SUBJECT32)
        .token(&ok(0), ids::RETURN32);
    })?;

    // 24. System V IPC: msgget and shmget.
    d.record(Header32, AUE_MSGGET, 0, 2, 10, |r| {
        r.token(
            &Token::Arg {
                num: 1,
                value: 0x1234,
                desc: b"msg key\0",
            },
            ids::ARG32,
        )
        .token(
            &Token::Ipc {
                kind: 1,
                id: 65_536,
            },
            ids::IPC,
        )
        .token(
            &Token::IpcPerm {
                uid: 501,
                gid: 20,
                cuid: 501,
                cgid: 20,
                mode: 0o600,
                seq: 1,
                key: 0x1234,
            },
            ids::IPC_PERM,
        )
        .token(&Token::Subject(alice(4500)), ids::SUBJECT32)
        .token(&ok(65_536), ids::RETURN32);
    })?;
    d.record(Header32, AUE_SHMGET, 0, 0, 11, |r| {
        r.token(
            &Token::Arg {
                num: 1,
                value: 0x5678,
                desc: b"shm key\0",
            },
            ids::ARG32,
        )
        .token(
            &Token::Ipc {
                kind: 3,
                id: 131_073,
            },
            ids::IPC,
        )
        .token(
            &Token::IpcPerm {
                uid: 501,
                gid: 20,
                cuid: 501,
                cgid: 20,
                mode: 0o640,
                seq: 2,
                key: 0x5678,
            },
            ids::IPC_PERM,
        )
        .token(&Token::Subject(alice(4500)), ids::SUBJECT32)
        .token(&ok(131_073), ids::RETURN32);
    })?;

    // 25. mmap with a 64-bit address and return.
    d.record(Header64, AUE_MMAP, 0, 1, 12, |r| {
        r.token(
            &Token::Arg {
                num: 1,
                value: 0x0000_0001_0a3c_4000,
                desc: b"addr\0",
            },
            ids::ARG64,
        )
        .token(
            &Token::Arg {
                num: 2,
                value: 0x0000_0000_0040_0000,
                desc: b"len\0",
            },
            ids::ARG64,
        )
        .token(&Token::Subject(alice(4501)), ids::SUBJECT64)
        .token(
            &Token::Return {
                status: 0,
                value: 0x0000_0001_0a3c_4000,
            },
            ids::RETURN64,
        );
    })?;

    // 26. inetd accepts an ftp connection: address, port and the IPv4 header.
    d.record(Header32, AUE_INETD_CONNECT, PAD_NOTATTR, 9, 300, |r| {
        let ip = [
            0x45, 0x10, 0x00, 0x3c, 0x04, 0xd2, 0x40, 0x00, 0x40, 0x06, 0xab, 0xcd, CLIENT4[0],
            CLIENT4[1], CLIENT4[2], CLIENT4[3], HOST4[0], HOST4[1], HOST4[2], HOST4[3],
        ];
        r.token(&Token::Subject(daemon(702)), ids::SUBJECT32)
            .token(&Token::Text(b"service ftp\0"), ids::TEXT)
            .token(&Token::InAddr(CLIENT4), ids::IN_ADDR)
            .token(&Token::IpPort(21), ids::IPORT)
            .token(&Token::Ip(ip), ids::IP)
            .token(&ok(0), ids::RETURN32);
    })?;

    // 27. setaudit_addr for carol's session: the terminal address, IPv6 and IPv4.
    d.record(Header32, AUE_SETAUDIT_ADDR, 0, 2, 401, |r| {
        r.token(
            &Token::Arg {
                num: 1,
                value: 1000,
                desc: b"setaudit_addr:auid\0",
            },
            ids::ARG32,
        )
        .token(&Token::InAddrEx(Addr::V6(CLIENT6)), ids::IN_ADDR_EX)
        .token(&Token::InAddrEx(Addr::V4(CLIENT4)), ids::IN_ADDR_EX)
        .token(&Token::Subject(daemon(50_008)), ids::SUBJECT32)
        .token(&ok(0), ids::RETURN32);
    })?;

    // 28. A Solaris zone: chmod using a privilege, with the zone name and privilege sets.
    d.record(Header32Ex(Addr::V4(HOST4)), AUE_CHMOD, 0, 4, 640, |r| {
        r.token(
            &Token::Arg {
                num: 2,
                value: 0o4755,
                desc: b"new file mode\0",
            },
            ids::ARG32,
        )
        .token(
            &Token::Path(b"/zones/web/root/opt/app/bin/helper\0"),
            ids::PATH,
        )
        .token(
            &Token::Attr {
                mode: 0o100755,
                uid: 0,
                gid: 2,
                fsid: 65_538,
                nodeid: 4_021,
                device: 0,
            },
            ids::ATTR32,
        )
        .token(
            &Token::UsePrivilege {
                success: 1,
                name: b"file_owner\0",
            },
            ids::UPRIV,
        )
        .token(
            &Token::Privilege {
                set: b"Effective\0",
                privs: b"file_chown,file_dac_read,file_owner,proc_fork\0",
            },
            ids::PRIV,
        )
        .token(&Token::Subject(alice_root(5100)), ids::SUBJECT32)
        .token(&Token::Zone(b"web\0"), ids::ZONENAME)
        .token(&Token::Seq(1_024), ids::SEQ)
        .token(&ok(0), ids::RETURN32);
    })?;

    // 29. A record submitted with audit(2): opaque and arbitrary data of every unit.
    d.record(Header32, AUE_AUDIT, 0, 3, 999, |r| {
        r.token(&Token::Subject(alice(4600)), ids::SUBJECT32)
            .token(
                &Token::Text(b"com.example.backup: snapshot done\0"),
                ids::TEXT,
            )
            .token(
                &Token::Opaque(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]),
                ids::OPAQUE,
            )
            .with(|b| encode::data(b, 4, 0, 9, b"snapshot\0"))
            .with(|b| encode::data_values(b, 0, 0, &[b'o'.into(), b'k'.into()]))
            .with(|b| encode::data_values(b, 1, 1, &[0o755, 0o644]))
            .with(|b| encode::data_values(b, 3, 2, &[0xdead_beef, 0x0102_0304]))
            .with(|b| encode::data_values(b, 2, 3, &[0x0102_0304_0506_0708, u64::MAX - 1]))
            .token(&Token::Seq(1_025), ids::SEQ)
            .token(&ok(0), ids::RETURN32);
    })?;

    // 30. curl exits.
    d.record(Header32, AUE_EXIT, 0, 1, 5, |r| {
        r.token(
            &Token::Exit {
                status: 0,
                value: 0,
            },
            ids::EXIT,
        )
        .token(&Token::Subject(alice(4300)), ids::SUBJECT32)
        .token(&ok(0), ids::RETURN32);
    })?;

    // 31. auditd shuts down.
    d.record(Header32, AUE_AUDIT_SHUTDOWN, 0, 45, 0, |r| {
        r.token(&Token::Text(b"auditd::Audit shutdown\0"), ids::TEXT)
            .token(&ok(0), ids::RETURN32);
    })?;

    let closed = cstr("/var/audit/20231114221320.20231114221605");
    encode::file(&mut d.out, d.clock, 0, &closed)?;
    Ok(d.out)
}

/// The demo trail (a few dozen records between two file tokens). Deterministic: the same
/// bytes on every call and every platform.
pub fn demo_trail() -> Vec<u8> {
    // The content is fixed and covered by tests, so this cannot fail; an empty trail would
    // be the answer if it ever did, rather than a panic.
    build().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::{Check, Framer, SpanKind};
    use crate::tokens::{decode, walk_valid, DecodeOptions};
    use std::collections::BTreeSet;

    const DEMO_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/bsmtrail/data/demo.bsm");

    #[test]
    fn demo_builds_and_is_deterministic() {
        let a = build().expect("demo builds");
        assert_eq!(a, demo_trail());
        assert_eq!(a, demo_trail());
    }

    #[test]
    fn demo_frames_validates_and_holds_every_token() {
        let data = demo_trail();
        let mut seen = BTreeSet::new();
        let (mut records, mut files, mut end) = (0, 0, 0);
        let mut kinds = Vec::new();
        for span in Framer::new(&data, Check::Trailer) {
            let span = span.expect("frames strictly");
            let item = &data[span.offset..span.offset + span.len];
            kinds.push(span.kind);
            match span.kind {
                SpanKind::File => {
                    let t = decode(item, 0, DecodeOptions::FULL).expect("file token");
                    assert_eq!(t.len, item.len());
                    seen.insert(t.id);
                    files += 1;
                }
                SpanKind::Record => {
                    walk_valid(item, DecodeOptions::FULL, |t| {
                        seen.insert(t.id);
                        // Every token is written back byte for byte.
                        let mut out = Vec::new();
                        encode::encode(&t.token, t.id, &mut out).unwrap();
                        assert_eq!(out, item[t.offset..t.offset + t.len]);
                    })
                    .unwrap_or_else(|f| panic!("record at {}: {f:?}", span.offset));
                    records += 1;
                }
            }
            end = span.offset + span.len;
        }
        assert_eq!(end, data.len(), "the whole trail frames");
        assert_eq!(kinds.first(), Some(&SpanKind::File));
        assert_eq!(kinds.last(), Some(&SpanKind::File));
        assert_eq!(files, 2);
        assert!((24..=48).contains(&records), "{records} records");
        let missing: Vec<String> = ids::DECODED
            .iter()
            .filter(|id| !seen.contains(id))
            .map(|id| format!("0x{id:02x} {}", crate::tokens::canonical_name(*id)))
            .collect();
        assert!(missing.is_empty(), "demo lacks {missing:?}");
    }

    #[test]
    fn demo_has_both_address_families_in_every_ex_form() {
        let data = demo_trail();
        let mut forms = BTreeSet::new();
        for span in Framer::new(&data, Check::Trailer) {
            let span = span.unwrap();
            if span.kind != SpanKind::Record {
                continue;
            }
            let item = &data[span.offset..span.offset + span.len];
            walk_valid(item, DecodeOptions::FULL, |t| {
                let v6 = match t.token {
                    Token::Header(h) => h.host.map(|a| matches!(a, Addr::V6(_))),
                    Token::Subject(s) | Token::Process(s) => Some(matches!(s.addr, Addr::V6(_))),
                    Token::InAddrEx(a) => Some(matches!(a, Addr::V6(_))),
                    Token::SocketEx { laddr, .. } => Some(matches!(laddr, Addr::V6(_))),
                    _ => None,
                };
                if let Some(v6) = v6 {
                    forms.insert((t.id, v6));
                }
            })
            .unwrap();
        }
        for id in [
            ids::HEADER32_EX,
            ids::HEADER64_EX,
            ids::IN_ADDR_EX,
            ids::SOCKET_EX,
        ] {
            assert!(forms.contains(&(id, false)), "0x{id:02x} IPv4");
            assert!(forms.contains(&(id, true)), "0x{id:02x} IPv6");
        }
        for id in [
            ids::SUBJECT32_EX,
            ids::SUBJECT64_EX,
            ids::PROCESS32_EX,
            ids::PROCESS64_EX,
        ] {
            assert!(forms.iter().any(|f| f.0 == id), "0x{id:02x}");
        }
        assert!(forms.contains(&(ids::SUBJECT32_EX, true)));
        assert!(forms.contains(&(ids::SUBJECT32_EX, false)));
    }

    #[test]
    fn demo_file_is_current() {
        let want = demo_trail();
        if std::env::var_os("BSMTRAIL_WRITE_DEMO").is_some_and(|v| v == "1") {
            let p = std::path::Path::new(DEMO_PATH);
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).unwrap();
            }
            std::fs::write(p, &want).unwrap();
        }
        let have = std::fs::read(DEMO_PATH).unwrap_or_else(|e| {
            panic!("{DEMO_PATH}: {e}; run BSMTRAIL_WRITE_DEMO=1 cargo test demo_file_is_current")
        });
        assert!(
            have == want,
            "{DEMO_PATH} is stale; run BSMTRAIL_WRITE_DEMO=1 cargo test demo_file_is_current"
        );
    }
}
