import pytest

from mmlt.utils.doc_markers import check_section, write_section


def test_section_replaced_rest_kept(tmp_path):
    doc = tmp_path / 'a.md'
    doc.write_text('# T\nintro\n<!-- t:begin -->\nold\n<!-- t:end -->\nend\n')
    write_section(str(doc), 't', '| a |\n')
    assert doc.read_text() == ('# T\nintro\n<!-- t:begin -->\n| a |\n'
                               '<!-- t:end -->\nend\n')
    write_section(str(doc), 't', 'new')  # idempotent markers
    assert doc.read_text().count('<!-- t:begin -->') == 1
    assert 'new' in doc.read_text() and '| a |' not in doc.read_text()


@pytest.mark.parametrize('text', [
    'no markers\n', '<!-- t:end -->\n<!-- t:begin -->\n',
    '<!-- t:begin -->\n<!-- t:end -->\n<!-- t:begin -->\n<!-- t:end -->\n',
    '<!-- t:begin -->\n'
])
def test_bad_markers_name_the_file(tmp_path, text):
    doc = tmp_path / 'b.md'
    doc.write_text(text)
    with pytest.raises(SystemExit, match='b.md'):
        write_section(str(doc), 't', 'x')
    assert doc.read_text() == text


def test_missing_doc(tmp_path):
    with pytest.raises(SystemExit, match='does not exist'):
        check_section(str(tmp_path / 'none.md'), 't')
