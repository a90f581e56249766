from zodbtasks import demo


def test_demo_processes_its_jobs(tmp_path):
    lines = []
    demo.run(str(tmp_path), out=lines.append)
    text = '\n'.join(lines)
    assert "completed  result={'hello': 'world'}" in text
    assert "error      result=None error='demo failure: no mail server'" \
        in text
    assert "completed  result='started later'" in text
    assert 'cronjob' in text and 'processing' not in text
