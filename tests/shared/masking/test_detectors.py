"""Why each hand-written rule exists: one small case per rule, per detector."""

from __future__ import annotations

import pytest

from shared.masking.detectors import account, address, card, dob, email_address, iban, ip, name, phone, ssn


def values(detect, text: str) -> list[str]:
    return [text[c.start : c.end] for c in detect(text)]


def keys(detect, text: str) -> list[str]:
    return [c.key for c in detect(text)]


# ---- shared group search


def test_value_right_after_another_number_is_still_found() -> None:
    # The candidate regex starts at "44"; the search must move on group by group.
    assert values(card.detect, "+44 20 7946 0958 4111 1111 1111 1111") == ["4111 1111 1111 1111"]


def test_two_adjacent_values_are_both_found() -> None:
    text = "4111 1111 1111 1111 5500 0000 0000 0004"
    assert values(card.detect, text) == ["4111 1111 1111 1111", "5500 0000 0000 0004"]
    text = "GB82WEST12345698765432 DE89370400440532013000"
    assert values(iban.detect, text) == ["GB82WEST12345698765432", "DE89370400440532013000"]


# ---- EMAIL


def test_email_key_is_lower_case() -> None:
    assert keys(email_address.detect, "Jane.Roe@Example.COM") == ["jane.roe@example.com"]


def test_email_needs_an_alphabetic_top_level_domain() -> None:
    assert values(email_address.detect, "user@localhost and npm i pad@1.3.0") == []


def test_email_shaped_image_file_names_are_not_emails() -> None:
    assert values(email_address.detect, "photo@2x.png") == []


def test_email_excludes_sentence_full_stop() -> None:
    assert values(email_address.detect, "write to tom@example.com.") == ["tom@example.com"]


# ---- PHONE


def test_phone_keys_are_e164_whatever_the_formatting() -> None:
    text = "(555) 123-4567, 555.123.4567, +1 555 123 4567, +44 (0)20 7946 0958"
    # "+1 555 123 4567" is seen by both the international and the North American rule;
    # overlap resolution keeps one, and both agree on the key.
    assert set(keys(phone.detect, text)) == {"+15551234567", "+442079460958"}


def test_phone_extension_is_part_of_the_value_and_key() -> None:
    assert values(phone.detect, "555-123-4567 ext. 89 today") == ["555-123-4567 ext. 89"]
    assert keys(phone.detect, "555-123-4567x89") == ["+15551234567;ext=89"]


def test_nine_digit_numbers_are_not_phones() -> None:
    assert phone.detect("call 123456789 or 123-456-789") == []


def test_bare_ten_digits_need_a_phone_word_before_them() -> None:
    assert values(phone.detect, "order number 5551234567") == []
    assert values(phone.detect, "call me on 5551234567") == ["5551234567"]


def test_international_number_is_trimmed_to_what_libphonenumber_accepts() -> None:
    # The trailing "2024" would make the number too long for the UK.
    assert values(phone.detect, "+44 20 7946 0958 2024") == ["+44 20 7946 0958"]


def test_plus_sign_with_too_few_digits_is_not_a_phone() -> None:
    assert phone.detect("+5 points and +49 30") == []


def test_north_american_area_code_cannot_start_with_0_or_1() -> None:
    assert phone.detect("ref 123-456-7890") == []


# ---- CARD


def test_card_requires_luhn() -> None:
    assert values(card.detect, "4111 1111 1111 1111") == ["4111 1111 1111 1111"]
    assert card.detect("4111 1111 1111 1112") == []


def test_card_requires_a_card_network_first_digit() -> None:
    # 1234567812345670 passes Luhn but no network issues cards starting with 1.
    assert card.detect("1234567812345670") == []


def test_card_trailing_cvv_is_trimmed_off() -> None:
    assert values(card.detect, "4111 1111 1111 1111 123") == ["4111 1111 1111 1111"]


def test_card_phone_like_grouping_is_rejected() -> None:
    assert not card.plausible_grouping([3, 3, 4, 3])
    assert card.plausible_grouping([4, 6, 5])
    assert card.plausible_grouping([4, 4, 4, 4, 3])


def test_luhn_valid_imei_with_its_label_is_not_a_card() -> None:
    assert card.detect("IMEI 490154203237518") == []
    assert values(card.detect, "card 490154203237518") == ["490154203237518"]


# ---- IBAN


def test_iban_checksum_is_enforced() -> None:
    assert values(iban.detect, "GB82 WEST 1234 5698 7654 32") == ["GB82 WEST 1234 5698 7654 32"]
    assert iban.detect("GB82 WEST 1234 5698 7654 31") == []


def test_iban_following_words_are_not_swallowed() -> None:
    text = "GB82 WEST 1234 5698 7654 32 OK THEN"
    assert values(iban.detect, text) == ["GB82 WEST 1234 5698 7654 32"]


def test_iban_key_is_compact_upper_case() -> None:
    assert keys(iban.detect, "gb82 west 1234 5698 7654 32") == ["GB82WEST12345698765432"]


# ---- SSN


@pytest.mark.parametrize(
    "value", ["000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000"]
)
def test_ssn_invalid_ranges_are_excluded(value: str) -> None:
    assert ssn.detect(f"SSN {value}") == []


def test_ssn_without_dashes_needs_an_ssn_word() -> None:
    assert ssn.detect("order 536221234") == []
    assert values(ssn.detect, "social security no. 536 22 1234") == ["536 22 1234"]


# ---- IP


@pytest.mark.parametrize(
    "text", ["version 1.2.3.4", "v1.2.3.4", "upgraded to 4.3.2.1", "section 4.2.1.3", "2.4.10.1-beta"]
)
def test_dotted_quads_after_version_or_section_words_are_not_ips(text: str) -> None:
    assert ip.detect(text) == []


def test_ipv4_octets_are_validated() -> None:
    assert ip.detect("999.1.1.1 and 256.0.0.1 and 01.02.03.04") == []


def test_times_and_mac_addresses_are_not_ipv6() -> None:
    assert ip.detect("at 12:30:45 the MAC 00:1A:2B:3C:4D:5E dropped") == []


def test_ipv6_key_is_compressed() -> None:
    assert keys(ip.detect, "2001:0db8:0000:0000:0000:0000:0000:0001") == ["2001:db8::1"]


# ---- DOB


def test_dob_needs_a_birth_label() -> None:
    assert dob.detect("appointment on 04/12/2025") == []
    assert values(dob.detect, "DOB: 04/12/1985") == ["04/12/1985"]


def test_dob_rejects_impossible_and_future_dates() -> None:
    assert dob.detect("DOB: 13/13/1985, born on 2099-01-01") == []


def test_dob_key_is_iso_date() -> None:
    assert keys(dob.detect, "born on 12 March 1985") == ["1985-03-12"]
    assert keys(dob.detect, "DOB 3/12/85") == ["1985-03-12"]


# ---- ADDRESS


def test_address_needs_number_name_and_street_type() -> None:
    assert address.detect("I used to live on Baker Street near ZIP 90210") == []
    assert values(address.detect, "at 221B Baker Street.") == ["221B Baker Street"]


def test_address_keeps_abbreviation_dot_and_unit() -> None:
    assert values(address.detect, "42 Elm St., Apt 5 is mine") == ["42 Elm St., Apt 5"]


def test_address_rare_street_words_must_be_capitalised() -> None:
    assert address.detect("it cost 20 Dollars way too much") == []


# ---- ACCOUNT


def test_account_value_is_masked_and_label_is_not() -> None:
    assert values(account.detect, "policy no. AB-123456") == ["AB-123456"]


def test_account_needs_digits_and_rejects_years() -> None:
    assert account.detect("my account is locked; account 2023 statement; member since 2019") == []


def test_order_numbers_are_not_accounts() -> None:
    assert account.detect("order #123456789") == []


# ---- NAME


@pytest.mark.parametrize(
    "text", ["I'm sorry", "I'm Sorry", "This is urgent", "This is Urgent", "Dear Customer,", "Thanks, Team"]
)
def test_cue_followed_by_a_non_name_is_not_a_name(text: str) -> None:
    assert name.detect(text) == []


def test_name_stops_at_a_stopword() -> None:
    assert values(name.detect, "I'm Jane Then I called") == ["Jane"]


def test_name_label_of_a_thing_is_not_a_person() -> None:
    assert name.detect("file name: Report, company name is Acme") == []
    assert values(name.detect, "Last name: Roe") == ["Roe"]


def test_company_after_this_is_is_not_a_person() -> None:
    assert name.detect("This is Acme Insurance") == []


def test_signature_name_must_end_its_line() -> None:
    assert values(name.detect, "Thanks,\nJane Roe\nAccounts") == ["Jane Roe"]
    assert name.detect("Thanks, Great service overall") == []


def test_title_keeps_title_and_drops_possessive() -> None:
    assert values(name.detect, "Mr. Smith's daughter") == ["Smith"]


def test_labels_are_found_in_text_whose_lower_case_changes_length() -> None:
    # "İ" lower-cases to two characters, so label offsets fall back to a full scan.
    assert values(account.detect, "İstanbul office: account number 12345678") == ["12345678"]
