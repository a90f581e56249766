"""Plain-text output of the operator command: aligned tables, ages, first
lines and screens refreshed every few seconds."""
import time

#: Clear the screen and go home (ANSI), before each refresh on a terminal.
CLEAR = '\x1b[H\x1b[2J'


def format_table(headers, rows, left=()):
    """The lines of a plain table, columns aligned: numbers right, except
    in the columns named in ``left``."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in rows])
              for i, header in enumerate(headers)]
    numeric = [header not in left and bool(rows)
               and all(_is_number(row[i]) for row in rows)
               for i, header in enumerate(headers)]

    def line(cells):
        return '  '.join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric)).rstrip()
    return [line(headers)] + [line(row) for row in rows]


def _is_number(text):
    digits = text[1:] if text.startswith('-') else text
    return digits.replace('.', '', 1).replace(',', '').isdigit() \
        or text == '-'


def format_age(seconds):
    if seconds < 120:
        return '%.1fs ago' % seconds
    if seconds < 7200:
        return '%dm ago' % (seconds // 60)
    return '%dh ago' % (seconds // 3600)


def first_line(text):
    return (text or '').strip().splitlines()[0] if text else ''


def print_table(out, headers, rows, empty, left=()):
    """Print the table of ``rows`` to ``out``, or the line ``empty`` when
    there is none; return whether there were rows."""
    if not rows:
        print(empty, file=out)
        return False
    for line in format_table(headers, rows, left=left):
        print(line, file=out)
    return True


def refresh(out, screen, interval, count=None, sleep=time.sleep):
    """Print the lines of ``screen()`` every ``interval`` seconds, ``count``
    times (None: until Ctrl-C), clearing a terminal before each; 0."""
    clear = out.isatty() if hasattr(out, 'isatty') else False
    refreshes = 0
    try:
        while True:
            lines = screen()
            if clear:
                out.write(CLEAR)
            for line in lines:
                print(line, file=out)
            out.flush()
            refreshes += 1
            if count is not None and refreshes >= count:
                return 0
            sleep(interval)
    except KeyboardInterrupt:
        return 0
