#!/usr/bin/env python3
"""ptyrun.py: runs a command on a pseudo-terminal, as a person at a
terminal runs it, for the system tests (tests/system/progress.sh).

    ptyrun.py [--when TEXT [--echo-off] --send KEYS | --signal NAME] [--raw FILE]
              [--screen FILE] -- COMMAND ARGS...

stdin, stdout and stderr of COMMAND are the terminal.  Once TEXT has
appeared in what it wrote, KEYS are typed (\\x03 is Ctrl-C: the terminal
sends SIGINT to the command) or the signal NAME (TERM, INT) is sent to
it; with --echo-off, once the terminal's echo is also off (a passphrase
prompt waiting).  --raw gets every byte it wrote; --screen gets what the screen shows
once it ended: carriage return, erase to end of line (ESC [ K) and
newline applied, one line per screen line.  The exit status is the
command's (128 + N when it died of signal N).  A command that never
shows TEXT is left to end on its own: the caller sees TEXT missing.
"""
import os
import pty
import select
import signal
import sys
import termios
import time


def screen(raw):
    lines, cur, col = [], [], 0
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == '\r':
            col = 0
        elif ch == '\n':
            lines.append(''.join(cur))
            cur, col = [], 0
        elif ch == '\x1b' and raw[i + 1:i + 3] == '[K':
            del cur[col:]
            i += 2
        else:
            if col < len(cur):
                cur[col] = ch
            else:
                cur.append(ch)
            col += 1
        i += 1
    if cur:
        lines.append(''.join(cur))
    return lines


def main(argv):
    when = keys = sig = raw_file = screen_file = None
    echo_off = False
    while argv and argv[0] != '--':
        if argv[0] == '--echo-off':
            echo_off, argv = True, argv[1:]
            continue
        opt, val = argv[0], argv[1]
        argv = argv[2:]
        if opt == '--when':
            when = val.encode()
        elif opt == '--send':
            keys = val.encode().decode('unicode_escape').encode('latin-1')
        elif opt == '--signal':
            sig = getattr(signal, 'SIG' + val)
        elif opt == '--raw':
            raw_file = val
        elif opt == '--screen':
            screen_file = val
        else:
            sys.exit('ptyrun.py: unknown option ' + opt)
    cmd = argv[1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b''
    done = when is None
    while True:
        try:
            r, _, _ = select.select([fd], [], [], 60)
        except InterruptedError:
            continue
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if not done and when in out:
            done = True
            for _ in range(600):
                if not echo_off or not termios.tcgetattr(fd)[3] & termios.ECHO:
                    break
                time.sleep(0.05)
            if keys is not None:
                os.write(fd, keys)
            if sig is not None:
                os.kill(pid, sig)
    _, status = os.waitpid(pid, 0)
    text = out.decode('utf-8', 'replace')
    if raw_file:
        with open(raw_file, 'w') as f:
            f.write(text)
    if screen_file:
        with open(screen_file, 'w') as f:
            for line in screen(text):
                f.write(line + '\n')
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
