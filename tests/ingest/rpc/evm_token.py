"""A minimal ERC-20 token as hand-written EVM runtime bytecode, installed on anvil with ``anvil_setCode``.

Why hand-written: the tests need a contract that emits *real* ``Transfer`` logs from a real
``transfer(address,uint256)`` call and answers ``decimals()`` and ``symbol()``, without a Solidity compiler on
the machine. The token keeps each holder's balance in the storage slot whose key is the holder's address (no
mapping hash: simpler, and the tests set opening balances with ``anvil_setStorageAt`` at that slot). It is 4
functions and about 170 bytes; every instruction is commented below.
"""

from __future__ import annotations

TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
DECIMALS = 6
SYMBOL = "TST"

_OPCODES = {
    "STOP": 0x00,
    "ADD": 0x01,
    "SUB": 0x03,
    "LT": 0x10,
    "EQ": 0x14,
    "AND": 0x16,
    "SHL": 0x1B,
    "SHR": 0x1C,
    "CALLER": 0x33,
    "CALLDATALOAD": 0x35,
    "MSTORE": 0x52,
    "SLOAD": 0x54,
    "SSTORE": 0x55,
    "JUMPI": 0x57,
    "JUMPDEST": 0x5B,
    "DUP1": 0x80,
    "DUP2": 0x81,
    "DUP3": 0x82,
    "SWAP1": 0x90,
    "LOG3": 0xA3,
    "RETURN": 0xF3,
    "REVERT": 0xFD,
}

# (instruction, comment). "PUSHn value" pushes an n-byte constant; "PUSH2 @label" the label's offset;
# "@label" marks a position (emit a JUMPDEST right after it).
PROGRAM: list[tuple[str, str]] = [
    # -- dispatcher: the selector is the first 4 bytes of calldata ------------------------------------------
    ("PUSH1 0x00", "calldata offset 0"),
    ("CALLDATALOAD", "first 32 bytes of calldata"),
    ("PUSH1 0xe0", "224"),
    ("SHR", "selector = calldata[0:32] >> 224"),
    ("DUP1", "keep the selector for the next comparison"),
    ("PUSH4 0xa9059cbb", "transfer(address,uint256)"),
    ("EQ", "selector == transfer?"),
    ("PUSH2 @transfer", "jump target"),
    ("JUMPI", "go to transfer if equal"),
    ("DUP1", ""),
    ("PUSH4 0x313ce567", "decimals()"),
    ("EQ", ""),
    ("PUSH2 @decimals", ""),
    ("JUMPI", ""),
    ("DUP1", ""),
    ("PUSH4 0x95d89b41", "symbol()"),
    ("EQ", ""),
    ("PUSH2 @symbol", ""),
    ("JUMPI", ""),
    ("DUP1", ""),
    ("PUSH4 0x70a08231", "balanceOf(address)"),
    ("EQ", ""),
    ("PUSH2 @balanceOf", ""),
    ("JUMPI", ""),
    ("PUSH1 0x00", "unknown selector: revert(0, 0)"),
    ("DUP1", ""),
    ("REVERT", ""),
    # -- decimals(): return uint256(6) -----------------------------------------------------------------------
    ("@decimals", ""),
    (f"PUSH1 {DECIMALS:#04x}", "the decimals"),
    ("PUSH1 0x00", ""),
    ("MSTORE", "memory[0:32] = 6"),
    ("PUSH1 0x20", "size 32"),
    ("PUSH1 0x00", "offset 0"),
    ("RETURN", "return memory[0:32]"),
    # -- symbol(): return the ABI string "TST" (offset 0x20, length 3, bytes) ----------------------------------
    ("@symbol", ""),
    ("PUSH1 0x20", "ABI offset of the string"),
    ("PUSH1 0x00", ""),
    ("MSTORE", "memory[0:32] = 0x20"),
    ("PUSH1 0x03", "string length"),
    ("PUSH1 0x20", ""),
    ("MSTORE", "memory[32:64] = 3"),
    ("PUSH3 0x545354", "'TST' as a number"),
    ("PUSH1 0xe8", "232 = 256 - 24 bits"),
    ("SHL", "left-align the 3 bytes in the word"),
    ("PUSH1 0x40", ""),
    ("MSTORE", "memory[64:96] = 'TST' + zero padding"),
    ("PUSH1 0x60", "size 96"),
    ("PUSH1 0x00", "offset 0"),
    ("RETURN", ""),
    # -- balanceOf(owner): return storage[owner] --------------------------------------------------------------
    ("@balanceOf", ""),
    ("PUSH1 0x04", "argument 0 offset"),
    ("CALLDATALOAD", "owner"),
    ("SLOAD", "storage[owner]"),
    ("PUSH1 0x00", ""),
    ("MSTORE", "memory[0:32] = balance"),
    ("PUSH1 0x20", ""),
    ("PUSH1 0x00", ""),
    ("RETURN", ""),
    # -- transfer(to, amount) ---------------------------------------------------------------------------------
    ("@transfer", ""),
    ("PUSH1 0x24", "argument 1 offset"),
    ("CALLDATALOAD", "stack: amount"),
    ("CALLER", "stack: caller, amount"),
    ("SLOAD", "stack: bal, amount (the sender's balance)"),
    ("DUP2", "stack: amount, bal, amount"),
    ("DUP2", "stack: bal, amount, bal, amount"),
    ("LT", "stack: bal < amount, bal, amount"),
    ("PUSH2 @fail", ""),
    ("JUMPI", "insufficient balance: revert"),
    ("DUP2", "stack: amount, bal, amount"),
    ("SWAP1", "stack: bal, amount, amount"),
    ("SUB", "stack: bal - amount, amount"),
    ("CALLER", "stack: caller, bal - amount, amount"),
    ("SSTORE", "storage[caller] = bal - amount; stack: amount"),
    ("PUSH1 0x04", "argument 0 offset"),
    ("CALLDATALOAD", "stack: to (raw word), amount"),
    ("PUSH20 0xffffffffffffffffffffffffffffffffffffffff", "address mask"),
    ("AND", "stack: to, amount"),
    ("DUP1", "stack: to, to, amount"),
    ("SLOAD", "stack: bal_to, to, amount"),
    ("DUP3", "stack: amount, bal_to, to, amount"),
    ("ADD", "stack: bal_to + amount, to, amount"),
    ("DUP2", "stack: to, bal_to + amount, to, amount"),
    ("SSTORE", "storage[to] = bal_to + amount; stack: to, amount"),
    ("SWAP1", "stack: amount, to"),
    ("PUSH1 0x00", "stack: 0, amount, to"),
    ("MSTORE", "memory[0:32] = amount (the event data); stack: to"),
    ("CALLER", "topic 1: from; stack: caller, to"),
    (f"PUSH32 0x{TRANSFER_TOPIC}", "topic 0: Transfer(address,address,uint256)"),
    ("PUSH1 0x20", "data size 32"),
    ("PUSH1 0x00", "data offset 0"),
    ("LOG3", "log3(0, 32, topic0, caller, to)"),
    ("PUSH1 0x01", "true"),
    ("PUSH1 0x00", ""),
    ("MSTORE", "memory[0:32] = 1"),
    ("PUSH1 0x20", ""),
    ("PUSH1 0x00", ""),
    ("RETURN", "return true"),
    ("@fail", ""),
    ("PUSH1 0x00", "revert(0, 0)"),
    ("DUP1", ""),
    ("REVERT", ""),
]


def assemble(program: list[tuple[str, str]]) -> bytes:
    """Two passes: label offsets first (every label becomes a JUMPDEST), then bytes."""
    labels: dict[str, int] = {}
    offset = 0
    for instruction, _ in program:
        if instruction.startswith("@"):
            labels[instruction] = offset
            offset += 1
        elif instruction.startswith("PUSH"):
            offset += 1 + int(instruction.split()[0][4:])
        else:
            offset += 1
    code = bytearray()
    for instruction, _ in program:
        if instruction.startswith("@"):
            code.append(_OPCODES["JUMPDEST"])
            continue
        name, *argument = instruction.split()
        if name.startswith("PUSH"):
            size = int(name[4:])
            value = labels[argument[0]] if argument[0].startswith("@") else int(argument[0], 16)
            code.append(0x5F + size)
            code.extend(value.to_bytes(size, "big"))
        else:
            code.append(_OPCODES[name])
    return bytes(code)


RUNTIME = assemble(PROGRAM)


def transfer_input(to: str, amount: int) -> str:
    """Calldata of ``transfer(to, amount)``."""
    return "0xa9059cbb" + to[2:].lower().rjust(64, "0") + f"{amount:064x}"


def balance_slot(holder: str) -> str:
    """The storage slot of ``holder``'s balance (the address itself, as a 32-byte word)."""
    return "0x" + holder[2:].lower().rjust(64, "0")
