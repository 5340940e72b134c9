//! Record bodies, in the kernel's token order for each event (FreeBSD's and xnu's
//! `audit_bsm.c`; Solaris conventions on the illumos hosts).

use std::io;

use super::words::*;
use super::*;

impl Generator {
    /// Writes the tokens of event `ev` up to the subject (and anything after it but before
    /// the return).
    pub(super) fn body(
        &mut self,
        out: &mut Vec<u8>,
        hi: usize,
        si: usize,
        ev: Ev,
        status: u8,
        f: Force,
    ) -> io::Result<Done> {
        let cfg = self.hosts[hi].cfg;
        let ok = status == 0;
        let pid = self.pick_pid(hi, si);
        let session = self.hosts[hi].sessions[si];
        let uid = session.uid;
        let mac = cfg.flavor == Flavor::Mac;
        let fd = 3
            + self.rng.below(8)
            + if self.rng.chance(100) {
                self.rng.below(250)
            } else {
                0
            };
        let mut done = match ev {
            Ev::OpenRead => {
                let at = self.rng.chance(200);
                if at {
                    let dirfd = if self.rng.chance(700) {
                        0xffff_ff9c
                    } else {
                        fd + 1
                    };
                    encode::arg32(out, 1, dirfd, b"fd\0")?;
                }
                let flags = *self.rng.pick(&[0, 0, 0x0010_0000, 0x4, 0x0002_0000]);
                encode::arg32(out, 2, flags, b"flags\0")?;
                self.file(out, &cfg, uid, ok)?;
                self.subject(out, hi, si, pid)?;
                Done::new(if at { AUE_OPENAT_R } else { AUE_OPEN_R }, fd.into())
            }
            Ev::OpenWrite => {
                let create = self.rng.chance(600);
                let event = if create { AUE_OPEN_RWC } else { AUE_OPEN_W };
                let flags = if create {
                    0x0602
                } else {
                    0x0001 | (0x0008 * self.rng.below(2))
                };
                encode::arg32(out, 2, flags, b"flags\0")?;
                if create {
                    let mode = *self.rng.pick(&[0o644, 0o600, 0o666]);
                    encode::arg32(out, 3, mode, b"mode\0")?;
                }
                self.file(out, &cfg, uid, ok)?;
                self.subject(out, hi, si, pid)?;
                Done::new(event, fd.into())
            }
            Ev::Close => {
                encode::arg32(out, 1, fd, b"fd\0")?;
                if self.rng.chance(800) {
                    self.file(out, &cfg, uid, true)?;
                }
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_CLOSE, 0)
            }
            Ev::Lookup => {
                let event = match self.rng.below(10) {
                    0..=4 => AUE_STAT,
                    5 | 6 => AUE_LSTAT,
                    7 => AUE_ACCESS,
                    8 => AUE_READLINK,
                    _ if mac => AUE_GETATTRLIST,
                    _ => AUE_STAT,
                };
                if event == AUE_ACCESS {
                    let mode = *self.rng.pick(&[0, 1, 4, 6]);
                    encode::arg32(out, 2, mode, b"mode\0")?;
                }
                self.file(out, &cfg, uid, ok)?;
                self.subject(out, hi, si, pid)?;
                let value = if event == AUE_READLINK {
                    self.s.len() as u64
                } else {
                    0
                };
                Done::new(event, value)
            }
            Ev::Modify => {
                let event = *self
                    .rng
                    .pick(&[AUE_UNLINK, AUE_RENAME, AUE_CHMOD, AUE_CHOWN, AUE_MKDIR]);
                match event {
                    AUE_CHMOD => {
                        let mode = *self.rng.pick(&[0o644, 0o755, 0o600, 0o700]);
                        encode::arg32(out, 2, mode, b"new file mode\0")?;
                    }
                    AUE_CHOWN => {
                        encode::arg32(out, 2, uid, b"new file uid\0")?;
                        encode::arg32(out, 3, 20, b"new file gid\0")?;
                    }
                    AUE_MKDIR => encode::arg32(out, 2, 0o755, b"mode\0")?,
                    _ => {}
                }
                self.file(out, &cfg, uid, ok && event != AUE_MKDIR)?;
                if event == AUE_RENAME {
                    self.path(cfg.flavor, uid);
                    self.path_token(out)?;
                }
                self.subject(out, hi, si, pid)?;
                Done::new(event, 0)
            }
            Ev::Exec => {
                let p = self.rng.below(PROGRAMS.len() as u32) as usize;
                let prog = PROGRAMS[p].0;
                let spawn = mac && self.rng.chance(300);
                let child = if spawn { self.new_pid(hi) } else { 0 };
                if spawn {
                    let attrp = 0x7ff7_b000_0000 | (u64::from(self.rng.below(1 << 24)) << 4);
                    encode::arg64(out, 1, attrp, b"attrp\0")?;
                }
                self.exec_args(cfg.flavor, prog, uid);
                encode::exec_args(out, items(&self.list, &self.ends))?;
                let env = f.env
                    || match cfg.flavor {
                        Flavor::FreeBsd => self.rng.chance(700),
                        Flavor::Mac => self.rng.chance(200),
                        Flavor::Illumos => self.rng.chance(500),
                    };
                if env {
                    self.exec_env(cfg.flavor, prog, &session)?;
                    encode::exec_env(out, items(&self.list, &self.ends))?;
                }
                self.s.clear();
                self.s.extend_from_slice(prog.as_bytes());
                self.path_token(out)?;
                if ok {
                    self.attr(out, cfg.wide, cfg.flavor, 0, false);
                }
                self.subject(out, hi, si, pid)?;
                let mut d = Done::new(
                    if spawn { AUE_POSIX_SPAWN } else { AUE_EXECVE },
                    child.into(),
                );
                if mac && ok && (f.identity || self.rng.chance(700)) {
                    d.identity = Some(p);
                }
                d
            }
            Ev::Fork => {
                let child = self.new_pid(hi);
                encode::arg32(out, 0, child, b"child PID\0")?;
                self.subject(out, hi, si, pid)?;
                if ok && self.rng.chance(800) {
                    self.hosts[hi].sessions[si].pid = child;
                }
                let event = if self.rng.chance(100) {
                    AUE_VFORK
                } else {
                    AUE_FORK
                };
                Done::new(event, child.into())
            }
            Ev::Exit => {
                let code = *self
                    .rng
                    .pick(&[0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 127, 130, 137, 255]);
                encode::exit(out, code, 0);
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_EXIT, 0)
            }
            Ev::Connect => {
                encode::arg32(out, 1, fd, b"fd\0")?;
                if f.unix || (!f.v4 && !f.v6 && self.rng.chance(250)) {
                    let path = *self.rng.pick(&UNIX_SOCKETS);
                    encode::sock_unix(out, 1, path.as_bytes())?;
                } else {
                    let (addr, port) = self.peer(f);
                    let local = 49_152 + self.rng.below(16_384) as u16;
                    self.sockaddr(out, &cfg, local, addr, port)?;
                }
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_CONNECT, 0)
            }
            Ev::Accept => {
                encode::arg32(out, 1, fd, b"fd\0")?;
                let (addr, service) = self.peer(f);
                let eph = 49_152 + self.rng.below(16_384) as u16;
                if cfg.flavor == Flavor::Illumos {
                    self.sockaddr(out, &cfg, service, addr, eph)?;
                } else {
                    self.sockaddr(out, &cfg, 0, addr, eph)?;
                }
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_ACCEPT, u64::from(fd) + 1)
            }
            Ev::Bind => {
                encode::arg32(out, 1, fd, b"fd\0")?;
                let port = PORTS[self.rng.below(PORTS.len() as u32) as usize].0;
                let v6 = self.rng.chance(300);
                if f.unix || self.rng.chance(300) {
                    let path = *self.rng.pick(&UNIX_SOCKETS);
                    encode::sock_unix(out, 1, path.as_bytes())?;
                } else if cfg.flavor == Flavor::Illumos {
                    let any = if v6 {
                        Addr::V6([0; 16])
                    } else {
                        Addr::V4([0; 4])
                    };
                    self.sockaddr(out, &cfg, port, any, 0)?;
                } else if v6 {
                    encode::sock_inet128(out, if mac { 30 } else { 28 }, port, [0; 16]);
                } else {
                    encode::sock_inet32(out, 2, port, [0; 4]);
                }
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_BIND, 0)
            }
            Ev::Socket => {
                let inet6 = if mac { 30 } else { 28 };
                let (domain, ty, proto) = *self.rng.pick(&[
                    (2, 1, 6),
                    (2, 2, 17),
                    (inet6, 1, 6),
                    (inet6, 2, 17),
                    (1, 1, 0),
                ]);
                encode::arg32(out, 1, domain, b"domain\0")?;
                encode::arg32(out, 2, ty, b"type\0")?;
                encode::arg32(out, 3, proto, b"protocol\0")?;
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_SOCKET, fd.into())
            }
            Ev::Sysctl => {
                let (name, mib) = *self.rng.pick(&SYSCTLS);
                for m in mib {
                    encode::arg32(out, 1, *m, b"name\0")?;
                }
                if self.rng.chance(100) {
                    encode::arg32(out, 5, self.rng.below(2), b"newval\0")?;
                }
                self.s.clear();
                self.s.extend_from_slice(name.as_bytes());
                self.s.push(0);
                encode::text(out, &self.s)?;
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_SYSCTL, 0)
            }
            Ev::Ioctl => {
                let cmd = *self.rng.pick(&[
                    0x4008_7468,
                    0x4004_667f,
                    0x2000_6601,
                    0xc020_6921,
                    0x4004_7400,
                    0x8004_667e,
                ]);
                encode::arg32(out, 2, cmd, b"cmd\0")?;
                let arg = 0x7ff7_b000_0000 | (u64::from(self.rng.below(1 << 24)) << 4);
                encode::arg64(out, 3, arg, b"arg\0")?;
                self.s.clear();
                self.s.extend_from_slice(b"/dev/");
                self.s.extend_from_slice(self.rng.pick(&DEVICES).as_bytes());
                self.path_token(out)?;
                if ok {
                    self.attr(out, cfg.wide, cfg.flavor, uid, true);
                }
                if f.data || self.rng.chance(200) {
                    let mut vals = [0u64; 16];
                    let n = self.rng.range(4, 16) as usize;
                    for v in &mut vals[..n] {
                        *v = u64::from(self.rng.below(256));
                    }
                    encode::data_values(out, 3, 0, &vals[..n])?;
                }
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_IOCTL, 0)
            }
            Ev::Setuid => {
                let target = if self.rng.chance(500) { 0 } else { uid };
                encode::arg32(out, 1, target, b"uid\0")?;
                if cfg.flavor == Flavor::Illumos && (f.privs || self.rng.chance(400)) {
                    encode::upriv(out, u8::from(ok), b"proc_setid\0")?;
                    encode::privset(
                        out,
                        b"Effective\0",
                        b"proc_setid,proc_audit,file_dac_read\0",
                    )?;
                }
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_SETUID, 0)
            }
            Ev::Setgroups => {
                let mut gids = [0u32; 16];
                gids[0] = session.gid;
                gids[1..].copy_from_slice(&MORE_GIDS);
                let n = self.rng.range(1, 16) as usize;
                encode::groups(out, &gids[..n])?;
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_SETGROUPS, 0)
            }
            Ev::Signal => {
                let kill = self.rng.chance(900);
                if kill {
                    let sig = *self.rng.pick(&[15, 15, 9, 1, 2, 19, 30, 31]);
                    encode::arg32(out, 2, sig, b"signal\0")?;
                } else {
                    encode::arg32(out, 1, self.rng.below(13), b"request\0")?;
                }
                let ti = if f.v4 { 0 } else { self.pick_session(hi) };
                let tpid = self.pick_pid(hi, ti);
                let target = self.hosts[hi].sessions[ti];
                let id = who_id(&cfg, &target.term, true);
                encode::encode(&Token::Process(target.subject(tpid)), id, out)?;
                self.subject(out, hi, si, pid)?;
                Done::new(if kill { AUE_KILL } else { AUE_PTRACE }, 0)
            }
            Ev::Ipc => {
                let (event, kind) =
                    *self
                        .rng
                        .pick(&[(AUE_MSGGET, 1u8), (AUE_SEMGET, 2), (AUE_SHMGET, 3)]);
                let key = self.rng.next_u64() as u32;
                let id = self.rng.below(1 << 20);
                encode::arg32(out, 1, key, b"key\0")?;
                if ok {
                    encode::ipc(out, kind, id);
                    let mode = 0o600 | (0o066 * self.rng.below(2));
                    let seq = self.rng.below(100);
                    encode::ipc_perm(out, uid, session.gid, uid, session.gid, mode, seq, key);
                }
                self.subject(out, hi, si, pid)?;
                Done::new(event, id.into())
            }
            Ev::Login => {
                let remote = f.krb5 || self.rng.chance(600);
                let event = match (cfg.flavor, remote) {
                    (_, true) => AUE_OPENSSH,
                    (Flavor::Mac, false) => AUE_LW_LOGIN,
                    _ => AUE_LOGIN,
                };
                let user = if self.rng.chance(700) {
                    self.rng.below(6) as usize
                } else {
                    USERS.len()
                };
                if ok {
                    let ni = self.login(hi, user, remote);
                    let s = self.hosts[hi].sessions[ni];
                    self.subject(out, hi, ni, s.pid)?;
                    self.message(out, b"successful login ", s.uid)?;
                    if self.rng.chance(300) {
                        let gids = [s.gid, 12, 61, 80];
                        encode::groups(out, &gids)?;
                    }
                    if remote && (f.krb5 || (cfg.flavor != Flavor::Illumos && self.rng.chance(150)))
                    {
                        self.s.clear();
                        user_name(&mut self.s, s.uid);
                        self.s.extend_from_slice(b"@EXAMPLE.COM");
                        encode::krb5_principal(out, [&self.s])?;
                    }
                } else {
                    self.subject(out, hi, 0, pid)?;
                    let uid = USERS.get(user).map_or(4242, |u| u.0);
                    self.message(out, b"authentication failure for ", uid)?;
                }
                Done {
                    fail_modifier: PAD_FAILURE,
                    ..Done::new(event, 0)
                }
            }
            Ev::Logout => {
                let n = self.hosts[hi].sessions.len();
                let li = if n > 1 {
                    1 + self.rng.below(n as u32 - 1) as usize
                } else {
                    0
                };
                let s = self.hosts[hi].sessions[li];
                self.subject(out, hi, li, s.pid)?;
                self.message(out, b"logout ", s.uid)?;
                if n > 4 && li != 0 {
                    self.hosts[hi].sessions.swap_remove(li);
                }
                Done::new(AUE_LOGOUT, 0)
            }
            Ev::Su => {
                self.subject(out, hi, si, pid)?;
                if ok {
                    self.message(out, b"successful authentication for ", uid)?;
                } else {
                    self.message(out, b"bad su to root by ", uid)?;
                }
                if cfg.flavor == Flavor::Illumos && self.rng.chance(500) {
                    encode::upriv(out, u8::from(ok), b"proc_setid\0")?;
                }
                Done {
                    fail_modifier: PAD_FAILURE,
                    ..Done::new(AUE_SU, 0)
                }
            }
            Ev::Auth => {
                self.subject(out, hi, si, pid)?;
                let event = if f.cert || (!f.uuid && self.rng.chance(500)) {
                    self.s.clear();
                    self.s.extend_from_slice(b"Authentication for user <");
                    user_name(&mut self.s, uid);
                    self.s.extend_from_slice(b">\0");
                    encode::text(out, &self.s)?;
                    if f.cert || self.rng.chance(250) {
                        self.s.clear();
                        for _ in 0..64 {
                            self.s
                                .push(b"0123456789abcdef"[self.rng.below(16) as usize]);
                        }
                        encode::cert_hash(out, [&self.s])?;
                    }
                    AUE_AUTH_USER
                } else {
                    let right = *self.rng.pick(&AUTH_RIGHTS);
                    self.s.clear();
                    self.s.extend_from_slice(right.as_bytes());
                    self.s.push(0);
                    encode::text(out, &self.s)?;
                    let (a, b) = (self.uuid(), self.uuid());
                    encode::arg_uuid(out, 1, &a, b"session\0")?;
                    encode::ret_uuid(out, 0, &b, b"authorization\0")?;
                    AUE_SSAUTHORIZE
                };
                Done {
                    fail_modifier: PAD_FAILURE,
                    ..Done::new(event, 0)
                }
            }
            Ev::Inetd => {
                self.subject(out, hi, 0, pid)?;
                let (service, port) = *self.rng.pick(&INETD_SERVICES);
                self.s.clear();
                self.s.extend_from_slice(service.as_bytes());
                self.s.push(0);
                encode::text(out, &self.s)?;
                let (client, _) = self.peer(f);
                match client {
                    Addr::V4(a) => encode::in_addr(out, a),
                    _ => encode::in_addr_ex(out, &client)?,
                }
                encode::iport(out, port);
                if let Addr::V4(src) = client {
                    if f.ip || self.rng.chance(50) {
                        let mut h = [0u8; 20];
                        h[0] = 0x45;
                        h[2..4].copy_from_slice(&60u16.to_be_bytes());
                        h[4..6].copy_from_slice(&(self.rng.below(1 << 16) as u16).to_be_bytes());
                        h[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
                        h[8] = 64;
                        h[9] = 6;
                        h[10..12].copy_from_slice(&(self.rng.below(1 << 16) as u16).to_be_bytes());
                        h[12..16].copy_from_slice(&src);
                        h[16..20].copy_from_slice(&[10, 0, 0, 21]);
                        encode::ip(out, &h);
                    }
                }
                Done {
                    modifier: PAD_NOTATTR,
                    ..Done::new(AUE_INETD_CONNECT, 0)
                }
            }
            Ev::Auditon => {
                let cmd = *self.rng.pick(&[2, 3, 4, 5, 12, 13, 29]);
                encode::arg32(out, 1, cmd, b"cmd\0")?;
                self.s.clear();
                for _ in 0..self.rng.range(4, 32) {
                    self.s.push(self.rng.below(256) as u8);
                }
                encode::opaque(out, &self.s)?;
                self.subject(out, hi, si, pid)?;
                Done::new(AUE_AUDITON, 0)
            }
        };
        let kernel = !matches!(ev, Ev::Login | Ev::Logout | Ev::Su | Ev::Auth | Ev::Inetd);
        if mac && kernel && done.identity.is_none() && self.rng.chance(350) {
            done.identity = Some(self.rng.below(PROGRAMS.len() as u32) as usize);
        }
        Ok(done)
    }

    /// A path (a device file a tenth of the time) and, when the call succeeded, the
    /// file's attributes.
    fn file(&mut self, out: &mut Vec<u8>, cfg: &HostCfg, uid: u32, attr: bool) -> io::Result<()> {
        self.path(cfg.flavor, uid);
        let dev = self.s.starts_with(b"/dev/");
        self.path_token(out)?;
        if attr {
            self.attr(out, cfg.wide, cfg.flavor, uid, dev);
        }
        Ok(())
    }

    /// A text token: `prefix` and the user's name.
    fn message(&mut self, out: &mut Vec<u8>, prefix: &[u8], uid: u32) -> io::Result<()> {
        self.s.clear();
        self.s.extend_from_slice(prefix);
        user_name(&mut self.s, uid);
        self.s.push(0);
        encode::text(out, &self.s)?;
        Ok(())
    }

    /// A random (version 4) UUID.
    fn uuid(&mut self) -> [u8; 16] {
        let mut u = [0u8; 16];
        u[..8].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        u[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
        u[6] = (u[6] & 0x0f) | 0x40;
        u[8] = (u[8] & 0x3f) | 0x80;
        u
    }

    /// Exec arguments into `self.list`: the program, then flags, paths and numbers; now and
    /// then a compiler line with over a hundred arguments.
    fn exec_args(&mut self, flavor: Flavor, prog: &str, uid: u32) {
        self.list_clear();
        let base = prog.rsplit('/').next().unwrap_or(prog);
        let argv0 = if self.rng.chance(500) { prog } else { base };
        self.list_push(argv0.as_bytes());
        let n = if prog.ends_with("/cc") && self.rng.chance(250) {
            self.rng.range(20, 150)
        } else {
            self.rng.geometric(600, 12)
        };
        for _ in 0..n {
            if self.list.len() > 12_000 {
                break;
            }
            match self.rng.below(10) {
                0..=4 => {
                    let flag = *self.rng.pick(&FLAGS);
                    self.list_push(flag.as_bytes());
                }
                5..=8 => {
                    self.path(flavor, uid);
                    self.list.extend_from_slice(&self.s);
                    self.list_end();
                }
                _ => {
                    push_num(&mut self.list, u64::from(self.rng.below(100_000)));
                    self.list_end();
                }
            }
        }
    }

    /// An environment into `self.list`: the user's variables, common settings, the working
    /// directory, and for remote sessions `SSH_CONNECTION`.
    fn exec_env(&mut self, flavor: Flavor, prog: &str, s: &Session) -> io::Result<()> {
        self.list_clear();
        for var in [&b"HOME="[..], b"USER=", b"LOGNAME="] {
            self.list.extend_from_slice(var);
            if var == b"HOME=" {
                self.list.extend_from_slice(match (flavor, s.uid) {
                    (Flavor::Mac, 0) => &b"/var/root"[..],
                    (_, 0) => b"/root",
                    (Flavor::Mac, _) => b"/Users/",
                    _ => b"/home/",
                });
                if s.uid != 0 {
                    user_name(&mut self.list, s.uid);
                }
            } else {
                user_name(&mut self.list, s.uid);
            }
            self.list_end();
        }
        for _ in 0..self.rng.range(3, 12) {
            let var = *self.rng.pick(&ENV_FIXED);
            self.list_push(var.as_bytes());
        }
        self.path(flavor, s.uid);
        self.list.extend_from_slice(b"PWD=");
        self.list.extend_from_slice(&self.s);
        self.list_end();
        if !matches!(s.term, Addr::V4([0, 0, 0, 0])) {
            self.list.extend_from_slice(b"SSH_CONNECTION=");
            match s.term {
                Addr::V4(a) => crate::inet::write_v4(&mut self.list, &a)?,
                Addr::V6(a) => crate::inet::write_v6(&mut self.list, &a)?,
                Addr::Other(_) => {}
            }
            self.list.extend_from_slice(b" ");
            push_num(&mut self.list, u64::from(49_152 + self.rng.below(16_384)));
            self.list.extend_from_slice(b" 10.0.0.21 22");
            self.list_end();
        }
        self.list.extend_from_slice(b"_=");
        self.list.extend_from_slice(prog.as_bytes());
        self.list_end();
        Ok(())
    }
}
