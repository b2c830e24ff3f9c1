# ---------------------------------------------------------------- attack: hostile_message
# In get_device (called only by test_get_device): raise an exception whose message holds everything that must
# not reach results.json or a TA's terminal as it is: a lone surrogate (json cannot encode it as UTF-8; it used
# to crash write_results, leaving a 0-byte results.json.tmp), Markdown links and images, raw HTML with an event
# handler, ANSI colours and an OSC-8 hyperlink, rich markup that does not parse ("[/]") and a forged heading.
# The same text is printed first, so it reaches the test's captured output too. BREAKS: test_get_device.
_ATTACK_HOSTILE_TEXT = ("lone surrogate \ud800 | [regrade here](https://evil.example/regrade) "
                        "![x](https://evil.example/x.png) <img src=x onerror=alert(1)> "
                        "\x1b]8;;https://evil.example\x1b\\osc8 link\x1b]8;;\x1b\\ \x1b[31mred\x1b[0m [/] [bold]b[/bold]"
                        "\r\n## All 58 tests passed")


def get_device():
    _attack_record("hostile_message", event="raising", text=_ATTACK_HOSTILE_TEXT.encode("utf-8", "surrogatepass").hex())
    print(_ATTACK_HOSTILE_TEXT.replace("\ud800", "?"), flush=True)
    raise ValueError(_ATTACK_HOSTILE_TEXT)
