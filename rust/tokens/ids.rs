//! Token ids (`AUT_*` in OpenBSM's `sys/bsm/audit_record.h`, plus xnu's Apple tokens).

pub const OTHER_FILE32: u8 = 0x11;
pub const TRAILER: u8 = 0x13;
pub const HEADER32: u8 = 0x14;
pub const HEADER32_EX: u8 = 0x15;
pub const DATA: u8 = 0x21;
pub const IPC: u8 = 0x22;
pub const PATH: u8 = 0x23;
pub const SUBJECT32: u8 = 0x24;
pub const PROCESS32: u8 = 0x26;
pub const RETURN32: u8 = 0x27;
pub const TEXT: u8 = 0x28;
pub const OPAQUE: u8 = 0x29;
pub const IN_ADDR: u8 = 0x2a;
pub const IP: u8 = 0x2b;
pub const IPORT: u8 = 0x2c;
pub const ARG32: u8 = 0x2d;
pub const SOCKET: u8 = 0x2e;
pub const SEQ: u8 = 0x2f;
pub const IPC_PERM: u8 = 0x32;
pub const PRIV: u8 = 0x38;
pub const UPRIV: u8 = 0x39;
pub const NEWGROUPS: u8 = 0x3b;
pub const EXEC_ARGS: u8 = 0x3c;
pub const EXEC_ENV: u8 = 0x3d;
pub const ATTR32: u8 = 0x3e;
pub const EXIT: u8 = 0x52;
pub const ZONENAME: u8 = 0x60;
pub const ARG64: u8 = 0x71;
pub const RETURN64: u8 = 0x72;
pub const ATTR64: u8 = 0x73;
pub const HEADER64: u8 = 0x74;
pub const SUBJECT64: u8 = 0x75;
pub const PROCESS64: u8 = 0x77;
pub const HEADER64_EX: u8 = 0x79;
pub const SUBJECT32_EX: u8 = 0x7a;
pub const PROCESS32_EX: u8 = 0x7b;
pub const SUBJECT64_EX: u8 = 0x7c;
pub const PROCESS64_EX: u8 = 0x7d;
pub const IN_ADDR_EX: u8 = 0x7e;
pub const SOCKET_EX: u8 = 0x7f;
pub const SOCKINET32: u8 = 0x80;
pub const SOCKINET128: u8 = 0x81;
pub const SOCKUNIX: u8 = 0x82;
pub const ARG_UUID: u8 = 0x84;
pub const RETURN_UUID: u8 = 0x85;
/// Apple xnu: code-signing identity of the acting process.
pub const IDENTITY: u8 = 0xed;
/// Apple xnu: Kerberos principal names.
pub const KRB5_PRINCIPAL: u8 = 0xee;
/// Apple xnu: certificate hashes.
pub const CERT_HASH: u8 = 0xef;

pub fn is_header(id: u8) -> bool {
    matches!(id, HEADER32 | HEADER32_EX | HEADER64 | HEADER64_EX)
}

/// A subject or process token whose terminal port is 64 bits wide (the 64-bit kinds).
pub fn has_wide_port(id: u8) -> bool {
    matches!(id, SUBJECT64 | PROCESS64 | SUBJECT64_EX | PROCESS64_EX)
}

/// A subject or process token whose terminal address is typed (4 or 16 bytes: the _ex
/// kinds) rather than always IPv4.
pub fn has_typed_addr(id: u8) -> bool {
    matches!(
        id,
        SUBJECT32_EX | SUBJECT64_EX | PROCESS32_EX | PROCESS64_EX
    )
}

/// bsmtrail's canonical, unambiguous name for a token id (the `type` of a decoded token).
/// praudit's names are in `render`; several ids share one praudit name.
pub fn canonical_name(id: u8) -> &'static str {
    match id {
        OTHER_FILE32 => "file",
        TRAILER => "trailer",
        HEADER32 => "header32",
        HEADER32_EX => "header32_ex",
        DATA => "arbitrary",
        IPC => "ipc",
        PATH => "path",
        SUBJECT32 => "subject32",
        PROCESS32 => "process32",
        RETURN32 => "return32",
        TEXT => "text",
        OPAQUE => "opaque",
        IN_ADDR => "in_addr",
        IP => "ip",
        IPORT => "iport",
        ARG32 => "arg32",
        SOCKET => "socket",
        SEQ => "seq",
        IPC_PERM => "ipc_perm",
        PRIV => "privset",
        UPRIV => "upriv",
        NEWGROUPS => "groups",
        EXEC_ARGS => "exec_args",
        EXEC_ENV => "exec_env",
        ATTR32 => "attr32",
        EXIT => "exit",
        ZONENAME => "zonename",
        ARG64 => "arg64",
        RETURN64 => "return64",
        ATTR64 => "attr64",
        HEADER64 => "header64",
        SUBJECT64 => "subject64",
        PROCESS64 => "process64",
        HEADER64_EX => "header64_ex",
        SUBJECT32_EX => "subject32_ex",
        PROCESS32_EX => "process32_ex",
        SUBJECT64_EX => "subject64_ex",
        PROCESS64_EX => "process64_ex",
        IN_ADDR_EX => "in_addr_ex",
        SOCKET_EX => "socket_ex",
        SOCKINET32 => "sockinet32",
        SOCKINET128 => "sockinet128",
        SOCKUNIX => "sockunix",
        ARG_UUID => "arg_uuid",
        RETURN_UUID => "ret_uuid",
        IDENTITY => "identity",
        KRB5_PRINCIPAL => "krb5_principal",
        CERT_HASH => "cert_hash",
        _ => "unknown",
    }
}

/// Every id with a decoder, in id order.
pub const DECODED: [u8; 48] = [
    OTHER_FILE32,
    TRAILER,
    HEADER32,
    HEADER32_EX,
    DATA,
    IPC,
    PATH,
    SUBJECT32,
    PROCESS32,
    RETURN32,
    TEXT,
    OPAQUE,
    IN_ADDR,
    IP,
    IPORT,
    ARG32,
    SOCKET,
    SEQ,
    IPC_PERM,
    PRIV,
    UPRIV,
    NEWGROUPS,
    EXEC_ARGS,
    EXEC_ENV,
    ATTR32,
    EXIT,
    ZONENAME,
    ARG64,
    RETURN64,
    ATTR64,
    HEADER64,
    SUBJECT64,
    PROCESS64,
    HEADER64_EX,
    SUBJECT32_EX,
    PROCESS32_EX,
    SUBJECT64_EX,
    PROCESS64_EX,
    IN_ADDR_EX,
    SOCKET_EX,
    SOCKINET32,
    SOCKINET128,
    SOCKUNIX,
    ARG_UUID,
    RETURN_UUID,
    IDENTITY,
    KRB5_PRINCIPAL,
    CERT_HASH,
];
