# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""The XML files are well-formed, and each is valid against the schema its xml-model names.

This stands in for ament_xmllint (no PyPI wheel), which validates the same way but fetches
the schema over the network. Both package.xml files name REP 149's package format 3 schema;
a copy of it is kept in test/schema (its README names the commit it came from).
"""

import pathlib

from lxml import etree
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / 'test' / 'schema'
# schema address (as an xml-model names it) -> the copy kept here
SCHEMA_COPIES = {
    'http://download.ros.org/schema/package_format3.xsd': SCHEMAS / 'package_format3.xsd',
}
XML_ROOTS = ('package.xml', 'kufenet_msgs', 'config', 'launch')


def xml_files() -> list[pathlib.Path]:
    """Return every XML file of the repository's source trees."""
    found = []
    for name in XML_ROOTS:
        top = ROOT / name
        found.extend([top] if top.is_file() else top.rglob('*.xml'))
    return sorted(found)


def schema_addresses(tree) -> list[str]:
    """Return the ``href`` of every ``<?xml-model?>`` instruction before the root element."""
    return [node.get('href') for node in tree.getroot().itersiblings(preceding=True)
            if isinstance(node, etree._ProcessingInstruction) and node.target == 'xml-model']


def problems(path: pathlib.Path) -> list[str]:
    """Say what is wrong with one XML file: not well-formed, unknown schema, or invalid."""
    try:
        tree = etree.parse(str(path))
    except etree.XMLSyntaxError as error:
        return [f'{path}: not well-formed: {error}']
    found = []
    for address in schema_addresses(tree):
        copy = SCHEMA_COPIES.get(address)
        if copy is None:
            found.append(f'{path}: no local copy of the schema {address} (test/schema)')
            continue
        schema = etree.XMLSchema(etree.parse(str(copy)))
        if not schema.validate(tree):
            found.extend(f'{path}:{error.line}: {error.message}' for error in schema.error_log)
    return found


def test_the_xml_files_are_found():
    names = {path.relative_to(ROOT).as_posix() for path in xml_files()}
    assert {'package.xml', 'kufenet_msgs/package.xml',
            'config/dds/fastdds_large_images.xml'} <= names


@pytest.mark.parametrize('path', xml_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_xml_file_is_well_formed_and_valid(path):
    assert problems(path) == []


@pytest.mark.parametrize('path', [ROOT / 'package.xml', ROOT / 'kufenet_msgs' / 'package.xml'],
                         ids=['kufenet_grasp', 'kufenet_msgs'])
def test_package_xml_names_the_format_3_schema(path):
    assert schema_addresses(etree.parse(str(path))) == [
        'http://download.ros.org/schema/package_format3.xsd']


PACKAGE = """<?xml version="1.0"?>
<?xml-model href="http://download.ros.org/schema/package_format3.xsd"
  schematypens="http://www.w3.org/2001/XMLSchema"?>
<package format="3">
  <name>probe</name>
  <version>{version}</version>
  <description>probe</description>
  <maintainer email="{email}">probe</maintainer>
  <license>Apache-2.0</license>
  {body}
</package>
"""


def _problems_of(tmp_path, text: str) -> list[str]:
    path = tmp_path / 'package.xml'
    path.write_text(text)
    return problems(path)


def test_a_valid_package_passes(tmp_path):
    text = PACKAGE.format(version='0.1.0', email='a@example.com',
                          body='<depend>rclpy</depend><export><build_type>x</build_type></export>')
    assert _problems_of(tmp_path, text) == []


@pytest.mark.parametrize(('version', 'email', 'body', 'complaint'), [
    ('0.1', 'a@example.com', '', "'version'"),
    ('0.1.0', 'not-an-email', '', "'email'"),
    ('0.1.0', 'a@example.com', '<export/><depend>rclpy</depend>', "'depend'"),
    ('0.1.0', 'a@example.com', '<run_depend>rclpy</run_depend>', "'run_depend'"),
], ids=['two-part version', 'bad email', 'export before depend', 'format 1 tag'])
def test_an_invalid_package_is_reported(tmp_path, version, email, body, complaint):
    found = _problems_of(tmp_path, PACKAGE.format(version=version, email=email, body=body))
    assert found and complaint in found[0]


def test_malformed_xml_and_an_unknown_schema_are_reported(tmp_path):
    assert 'not well-formed' in _problems_of(tmp_path, '<package><name>x</package>')[0]
    unknown = '<?xml-model href="http://example.com/other.xsd"?>\n<root/>\n'
    assert _problems_of(tmp_path, unknown) == [
        f'{tmp_path / "package.xml"}: no local copy of the schema http://example.com/other.xsd '
        '(test/schema)']
